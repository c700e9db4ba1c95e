package dev.jdiffusion.tokenizer;

/**
 * A prompt as the text encoder takes it: exactly {@code maxLength} ids (BOS, tokens, EOS, padding),
 * the attention mask (1 for BOS..EOS, 0 for padding), and what truncation dropped, if anything.
 *
 * @param ids the model's input ids
 * @param attentionMask 1 where {@code ids} holds the prompt, 0 on padding
 * @param droppedTokens how many tokens did not fit and were cut off (0 when the prompt fits)
 * @param droppedText the text of those tokens, empty when none
 */
public record TokenizedPrompt(int[] ids, int[] attentionMask, int droppedTokens, String droppedText) {
    public TokenizedPrompt {
        ids = ids.clone();
        attentionMask = attentionMask.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public int[] attentionMask() {
        return attentionMask.clone();
    }

    public boolean truncated() {
        return droppedTokens > 0;
    }
}
