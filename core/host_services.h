/* host_services.h -- the ob_host table handed to every plugin. */
#ifndef OB_HOST_SERVICES_H
#define OB_HOST_SERVICES_H

#include "optbench/plugin.h"

/* The process-wide table (static storage; never freed). */
const ob_host *ob_host_services(void);

/* Counts calls of the host allocator since start; tests use it to prove a
 * training step allocates nothing through the host. */
unsigned long ob_host_alloc_count(void);

/* Log threshold for plugin messages (default OB_LOG_INFO). */
void ob_host_set_log_level(ob_log_level level);

#endif
