# Sourced by tools/regression-check.sh and tools/refresh-baselines.sh: the
# BLAS setting the committed baselines are made and checked with.
#
# One BLAS thread, and OpenBLAS's Haswell kernels whatever the CPU (its
# DYNAMIC_ARCH build otherwise picks kernels per CPU model, and e.g. the
# AVX-512 kernels round float32 sums differently in the last bits). Most
# cells would absorb that within the check's rtol, but HF's discrete
# decisions (the CG iterate chosen, the damping step) can flip on a last-bit
# difference, so the regression HF cells are only reproducible across
# machines with the same kernels. The Haswell kernels need AVX2 and FMA;
# without them the check runs with the native kernels and says so.
export OPENBLAS_NUM_THREADS=1
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo 2>/dev/null; then
    export OPENBLAS_CORETYPE=Haswell
  else
    echo "regression: this CPU lacks AVX2/FMA, so OpenBLAS's native kernels are used;" \
         "HF cells may differ from the baselines beyond tolerance (docs/REGRESSION.md)" >&2
  fi
fi
