package dev.jdiffusion.cpu;

/** Plain, obviously-correct double-precision versions of the kernels, for the tests to compare with. */
final class ScalarReference {
    private ScalarReference() {}

    /** {@code c = a w^T + bias} with {@code a [m,k]}, {@code w [n,k]}. */
    static double[] linear(float[] a, float[] w, float[] bias, int m, int k, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = bias == null ? 0 : bias[j];
                for (int p = 0; p < k; p++) {
                    s += (double) a[i * k + p] * w[j * k + p];
                }
                c[i * n + j] = s;
            }
        }
        return c;
    }

    /** Sum of |a| |w| per output: the scale against which a float dot product's rounding is judged. */
    static double[] linearMagnitude(float[] a, float[] w, float[] bias, int m, int k, int n) {
        float[] absA = new float[a.length];
        float[] absW = new float[w.length];
        for (int i = 0; i < a.length; i++) {
            absA[i] = Math.abs(a[i]);
        }
        for (int i = 0; i < w.length; i++) {
            absW[i] = Math.abs(w[i]);
        }
        float[] absBias = null;
        if (bias != null) {
            absBias = new float[bias.length];
            for (int i = 0; i < bias.length; i++) {
                absBias[i] = Math.abs(bias[i]);
            }
        }
        return linear(absA, absW, absBias, m, k, n);
    }

    static double[] layerNorm(float[] x, float[] gamma, float[] beta, double eps, int rows, int width) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mean = 0;
            for (int i = 0; i < width; i++) {
                mean += x[r * width + i];
            }
            mean /= width;
            double var = 0;
            for (int i = 0; i < width; i++) {
                double d = x[r * width + i] - mean;
                var += d * d;
            }
            var /= width;
            for (int i = 0; i < width; i++) {
                y[r * width + i] = (x[r * width + i] - mean) / Math.sqrt(var + eps) * gamma[i] + beta[i];
            }
        }
        return y;
    }

    static double[] softmax(float[] x, int rows, int width) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < width; i++) {
                max = Math.max(max, x[r * width + i]);
            }
            double sum = 0;
            for (int i = 0; i < width; i++) {
                sum += Math.exp(x[r * width + i] - max);
            }
            for (int i = 0; i < width; i++) {
                y[r * width + i] = Math.exp(x[r * width + i] - max) / sum;
            }
        }
        return y;
    }

    /** Attention on {@code [batch, tokens, heads*dim]} tensors, materialising every score row. */
    static double[] attention(float[] q, float[] k, float[] v, int batch, int queries, int keys, int heads, int dim,
            double scale, boolean causal) {
        int width = heads * dim;
        double[] out = new double[batch * queries * width];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < queries; i++) {
                    int visible = causal ? i + 1 : keys;
                    double[] s = new double[visible];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < visible; j++) {
                        double dot = 0;
                        for (int d = 0; d < dim; d++) {
                            dot += (double) q[(b * queries + i) * width + h * dim + d] * k[(b * keys + j) * width + h * dim + d];
                        }
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < visible; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int d = 0; d < dim; d++) {
                        double o = 0;
                        for (int j = 0; j < visible; j++) {
                            o += s[j] * v[(b * keys + j) * width + h * dim + d];
                        }
                        out[(b * queries + i) * width + h * dim + d] = o / sum;
                    }
                }
            }
        }
        return out;
    }

    /** erf by its Maclaurin series (|x| <= 4, where double keeps ~1e-11), and +-1 beyond, where erfc < 2e-8. */
    static double erf(double x) {
        if (Math.abs(x) > 4) {
            return Math.signum(x);
        }
        double term = x;
        double sum = x;
        for (int n = 1; n < 200; n++) {
            term *= -x * x / n;
            double add = term / (2 * n + 1);
            sum += add;
            if (Math.abs(add) < 1e-17 * Math.abs(sum)) {
                break;
            }
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    static double quickGelu(double x) {
        return x / (1 + Math.exp(-1.702 * x));
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }
}
