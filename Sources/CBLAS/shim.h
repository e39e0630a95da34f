// OpenBLAS's CBLAS interface, as Debian's libopenblas-dev installs it.
// Only Sources/Model/Numerics/GEMM.swift imports this module.
#include <cblas.h>
