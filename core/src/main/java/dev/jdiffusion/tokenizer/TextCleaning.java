package dev.jdiffusion.tokenizer;

/** How a prompt is cleaned before it is split into words and byte-pair encoded. */
public enum TextCleaning {
    /**
     * What transformers' {@code CLIPTokenizer} does when the optional {@code ftfy} package is absent, as
     * with a plain {@code pip install diffusers transformers}: control and format characters deleted,
     * whitespace collapsed, spaces put around CJK ideographs, NFC, lower case. The default.
     */
    BASIC,
    /**
     * What {@code CLIPTokenizer} does with {@code ftfy} installed, as OpenAI's original CLIP tokenizer:
     * HTML entities unescaped, ligatures and full-width forms folded, curly quotes straightened,
     * whitespace collapsed, lower case. (ftfy's mojibake repair is not reproduced.)
     */
    FTFY;

    String clean(String text) {
        return switch (this) {
            case BASIC -> BasicCleaner.clean(text);
            case FTFY -> FtfyCleaner.clean(text);
        };
    }
}
