package gemini

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"

	"google.golang.org/genai"

	"frameforge"
)

// maxExcerpt bounds the model text quoted in a no-image error.
const maxExcerpt = 200

// enumName matches an upstream enum value safe to quote in a message.
var enumName = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,63}$`)

// reasonName returns an upstream enum value for a message, or "UNKNOWN" when
// it does not look like one (the message must never carry arbitrary text).
func reasonName(s string) string {
	if enumName.MatchString(s) {
		return s
	}
	return "UNKNOWN"
}

// imageFrom extracts the edited image from a 200 answer. It returns
// EContentBlocked when a filter stopped the prompt or the output,
// ENoImageReturned when there is no image, and EUpstreamError when the bytes
// are not a picture. Image bytes the transport took out of the answer come
// back from in.
func imageFrom(resp *genai.GenerateContentResponse, in *inlineImages, secret string) (frameforge.Image, *frameforge.Error) {
	if pf := resp.PromptFeedback; pf != nil && pf.BlockReason != "" {
		r := reasonName(string(pf.BlockReason))
		return frameforge.Image{}, failure(frameforge.EContentBlocked,
			fmt.Sprintf("Gemini blocked the request (%s).", r), fmt.Errorf("promptFeedback.blockReason %s", r), secret)
	}
	if len(resp.Candidates) == 0 || resp.Candidates[0] == nil {
		return frameforge.Image{}, failure(frameforge.ENoImageReturned, msgNoImage, errors.New("no candidates"), secret)
	}
	cand := resp.Candidates[0]
	reason := string(cand.FinishReason)
	if blockFinish[cand.FinishReason] {
		r := reasonName(reason)
		// finishMessage (if any) goes to the log only: it is upstream prose.
		// The SDK's Gemini API converter drops it anyway (v1.77.0).
		return frameforge.Image{}, failure(frameforge.EContentBlocked,
			fmt.Sprintf("Gemini blocked the generated image (%s).", r),
			fmt.Errorf("finishReason %s %q", r, cand.FinishMessage), secret)
	}

	// Gemini 3 models send thought parts first, some with draft images; the
	// answer is the last inline image that is not a thought.
	var data []byte
	var texts []string
	if cand.Content != nil {
		for _, p := range cand.Content.Parts {
			switch {
			case p == nil || p.Thought:
			case p.InlineData != nil && len(p.InlineData.Data) > 0:
				data = in.answer(p.InlineData.Data)
			case p.Text != "":
				texts = append(texts, p.Text)
			}
		}
	}
	if data == nil {
		why := fmt.Errorf("finishReason %q, %d text parts, finishMessage %q", reason, len(texts), cand.FinishMessage)
		suffix := ""
		if reason != "" && cand.FinishReason != genai.FinishReasonStop {
			suffix = " (" + reasonName(reason) + ")"
		}
		if ex := excerpt(strings.Join(texts, " "), secret); ex != "" {
			return frameforge.Image{}, failure(frameforge.ENoImageReturned,
				fmt.Sprintf("Gemini answered with text instead of an image%s: \"%s\"", suffix, ex), why, secret)
		}
		return frameforge.Image{}, failure(frameforge.ENoImageReturned,
			"Gemini returned no image"+suffix+".", why, secret)
	}

	ct := http.DetectContentType(data)
	switch ct {
	case "image/png", "image/jpeg", "image/webp", "image/gif":
	default:
		return frameforge.Image{}, failure(frameforge.EUpstreamError, msgNotAnImage,
			fmt.Errorf("inline data sniffed as %s (%d bytes)", ct, len(data)), secret)
	}
	return frameforge.Image{Data: data, ContentType: ct}, nil
}

// excerpt returns the model's text on one line, at most maxExcerpt runes,
// with control characters dropped and the key (should it ever appear) hidden.
func excerpt(s, secret string) string {
	if secret != "" {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	s = strings.Join(strings.Fields(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)), " ")
	if r := []rune(s); len(r) > maxExcerpt {
		s = strings.TrimSpace(string(r[:maxExcerpt-1])) + "…"
	}
	return s
}
