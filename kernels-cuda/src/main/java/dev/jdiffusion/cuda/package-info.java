/**
 * The CUDA backend: an implementation of {@link dev.jdiffusion.tensor.Backend} over cuBLAS, cuDNN and
 * kernels compiled at run time with NVRTC, found by core through {@link java.util.ServiceLoader}. Core
 * never imports this module; applications add it at run time to use {@code Device.cuda(n)}.
 */
package dev.jdiffusion.cuda;
