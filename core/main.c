#include <stdio.h>

int main(void) {
    puts("optbench: under construction");
    return 0;
}
