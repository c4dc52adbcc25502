package geminitest

import "time"

// Kind selects what the fake answers to one request that passed routing,
// authentication, model lookup and body validation.
type Kind int

// The kinds of answer the fake can script. The zero value is ImageAndText, so
// Scenario{} is the ordinary success.
const (
	// ImageAndText answers 200 with a text part and a PNG (the text part is
	// left out when responseModalities asks for images only, as the real
	// image models do), finishReason STOP.
	ImageAndText Kind = iota
	// ImageOnly answers 200 with one PNG part, finishReason STOP.
	ImageOnly
	// Thoughts answers 200 the way Gemini 3 image models do: a thought text
	// part and a thought DRAFT image (thought:true) before the final image,
	// which carries a thoughtSignature.
	Thoughts
	// TextOnly answers 200 with text and no image, finishReason STOP
	// (danny-avila/LibreChat#9514).
	TextOnly
	// Finish answers 200 with a candidate whose content is {"role":"model"}
	// (no parts) and Scenario.FinishReason (default NO_IMAGE) plus
	// Scenario.FinishMessage: IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT, SAFETY…
	Finish
	// PromptBlocked answers 200 with promptFeedback.blockReason
	// (Scenario.BlockReason, default PROHIBITED_CONTENT) and no candidates.
	PromptBlocked
	// RateLimited answers 429 RESOURCE_EXHAUSTED with QuotaFailure, Help and
	// RetryInfo details (Scenario.RetryDelay, default "53s";
	// Scenario.OmitRetryInfo drops RetryInfo, like a daily quota).
	RateLimited
	// Internal answers 500 INTERNAL.
	Internal
	// Unavailable answers 503 UNAVAILABLE ("The model is overloaded"), with
	// RetryInfo only when Scenario.RetryDelay is set.
	Unavailable
	// PermissionDenied answers 403 PERMISSION_DENIED (a leaked key).
	PermissionDenied
	// FailedPrecondition answers 400 FAILED_PRECONDITION (region/billing).
	FailedPrecondition
	// InvalidArgument answers 400 INVALID_ARGUMENT unrelated to the key.
	InvalidArgument
	// BadGatewayHTML answers 502 with an HTML page, as a proxy in front of
	// Google does; the SDK cannot parse it.
	BadGatewayHTML
	// MalformedJSON answers 200 application/json with a truncated document
	// (in a stream: one event with broken JSON).
	MalformedJSON
	// KeyInErrorBody answers Scenario.Status (default 400) with an
	// INVALID_ARGUMENT error whose message and details contain the API key the
	// client sent, to prove the client never echoes upstream bodies.
	KeyInErrorBody
	// MidStreamError: in a stream, one good event then a
	// `data: {"error":{…}}` event (500 INTERNAL); unary requests get a plain
	// 500 INTERNAL.
	MidStreamError
	// Cut breaks the connection mid-body: unary requests get the headers and
	// half of a Content-Length body; streams get one good event and half of
	// the next, then the connection closes without a final chunk.
	Cut
	// Disconnect closes the connection before any response is written.
	Disconnect
	// Raw answers Scenario.Status with Scenario.Body and Scenario.ContentType
	// verbatim.
	Raw
	// Redirect answers Scenario.Status (default 307) with Location:
	// Scenario.Location, as a misconfigured proxy or a hijacked DNS name
	// might. A client that follows it re-sends the key and the photo there.
	Redirect
	// EndlessBody answers Scenario.Status (default 500) with a JSON error
	// body that never ends: it streams until the client goes away.
	// Request.BodyBytes counts what was written, Request.BodyDone says when
	// the writing stopped.
	EndlessBody
	// GzipBomb answers Scenario.Status (default 500) with Content-Encoding:
	// gzip and gzip members of 1 MiB of zeros each, forever: a few KiB on the
	// wire are megabytes to a client that decompresses (Go's transport does,
	// transparently). Request.BodyBytes counts the compressed bytes written.
	GzipBomb
	// Trickle answers Scenario.Status (default 200) and then one byte of
	// body per Scenario.Interval (default 50ms), never finishing.
	Trickle
)

var kindNames = [...]string{
	ImageAndText:       "ImageAndText",
	ImageOnly:          "ImageOnly",
	Thoughts:           "Thoughts",
	TextOnly:           "TextOnly",
	Finish:             "Finish",
	PromptBlocked:      "PromptBlocked",
	RateLimited:        "RateLimited",
	Internal:           "Internal",
	Unavailable:        "Unavailable",
	PermissionDenied:   "PermissionDenied",
	FailedPrecondition: "FailedPrecondition",
	InvalidArgument:    "InvalidArgument",
	BadGatewayHTML:     "BadGatewayHTML",
	MalformedJSON:      "MalformedJSON",
	KeyInErrorBody:     "KeyInErrorBody",
	MidStreamError:     "MidStreamError",
	Cut:                "Cut",
	Disconnect:         "Disconnect",
	Raw:                "Raw",
	Redirect:           "Redirect",
	EndlessBody:        "EndlessBody",
	GzipBomb:           "GzipBomb",
	Trickle:            "Trickle",
}

// String returns the kind's Go name, for test output.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(?)"
}

// Scenario is one scripted answer. Only the fields its Kind documents are
// used; the rest are ignored.
type Scenario struct {
	Kind Kind
	// Delay is waited before answering. The wait ends early when the client
	// cancels the request (recorded in Request.Cancelled) or the server closes.
	Delay time.Duration
	// Text replaces the default text part (ImageAndText, Thoughts, TextOnly).
	Text string
	// Image replaces the final image's bytes (ImageAndText, ImageOnly,
	// Thoughts), e.g. a multi-MB picture for one huge SSE event, or bytes that
	// are not an image. ImageMIME is its mimeType (default image/png).
	Image     []byte
	ImageMIME string
	// FinishReason and FinishMessage for Finish.
	FinishReason  string
	FinishMessage string
	// DraftOnly makes Thoughts stop after the thought parts: a thought text
	// and a thought draft image, no final image, finishReason FinishReason
	// (default NO_IMAGE). A client must not hand out the draft.
	DraftOnly bool
	// BlockReason for PromptBlocked.
	BlockReason string
	// RetryDelay is RetryInfo.retryDelay, a proto Duration string such as
	// "53s" or "0.05s" (RateLimited, Unavailable).
	RetryDelay    string
	OmitRetryInfo bool // RateLimited without RetryInfo
	// Status, Body and ContentType for Raw (Status also for KeyInErrorBody,
	// Redirect, EndlessBody, GzipBomb and Trickle).
	Status      int
	Body        string
	ContentType string
	// Location is the Redirect target.
	Location string
	// Interval is Trickle's pause between bytes.
	Interval time.Duration
}
