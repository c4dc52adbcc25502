package geminitest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"strconv"
	"strings"
)

// Wire types of the answers. They only ever encode (camelCase, as the real
// API emits); requests are read by the lenient types further down.

type response struct {
	Candidates     []candidate     `json:"candidates,omitempty"`
	PromptFeedback *promptFeedback `json:"promptFeedback,omitempty"`
	UsageMetadata  usage           `json:"usageMetadata"`
	ModelVersion   string          `json:"modelVersion"`
	ResponseID     string          `json:"responseId"`
}

type candidate struct {
	Content       content `json:"content"`
	FinishReason  string  `json:"finishReason,omitempty"`
	FinishMessage string  `json:"finishMessage,omitempty"`
	Index         int     `json:"index"`
}

type content struct {
	Role  string `json:"role"`
	Parts []part `json:"parts,omitempty"`
}

type part struct {
	Text             string `json:"text,omitempty"`
	InlineData       *blob  `json:"inlineData,omitempty"`
	Thought          bool   `json:"thought,omitempty"`
	ThoughtSignature []byte `json:"thoughtSignature,omitempty"`
}

type blob struct {
	MIMEType string `json:"mimeType"`
	Data     []byte `json:"data"`
}

type promptFeedback struct {
	BlockReason string `json:"blockReason"`
}

type modalityCount struct {
	Modality   string `json:"modality"`
	TokenCount int    `json:"tokenCount"`
}

type usage struct {
	PromptTokenCount        int             `json:"promptTokenCount"`
	CandidatesTokenCount    int             `json:"candidatesTokenCount,omitempty"`
	TotalTokenCount         int             `json:"totalTokenCount"`
	ThoughtsTokenCount      int             `json:"thoughtsTokenCount,omitempty"`
	PromptTokensDetails     []modalityCount `json:"promptTokensDetails,omitempty"`
	CandidatesTokensDetails []modalityCount `json:"candidatesTokensDetails,omitempty"`
}

// rpcStatus is google.rpc.Status as the REST API renders it inside
// {"error": …}.
type rpcStatus struct {
	Code    int              `json:"code"`
	Message string           `json:"message"`
	Status  string           `json:"status"`
	Details []map[string]any `json:"details,omitempty"`
}

// Error messages and details copied from real answers (docs/providers.md, Gemini: error bodies).
const (
	msgKeyInvalid   = "API key not valid. Please pass a valid API key."
	msgUnregistered = "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."
	msgLeaked       = "Your API key was reported as leaked. Please use another API key."
	msgInternal     = "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"
	msgOverloaded   = "The model is overloaded. Please try again later."
	msgRegion       = "Image generation is not available in your country."
	msgInvalidArg   = "Request contains an invalid argument."
	msgBadGateway   = "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 502 (Server Error)!!1</title>\n  <p><b>502.</b> <ins>That’s an error.</ins>\n  <p>The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.  <ins>That’s all we know.</ins>\n"
	typeErrorInfo   = "type.googleapis.com/google.rpc.ErrorInfo"
	typeLocalized   = "type.googleapis.com/google.rpc.LocalizedMessage"
	typeRetryInfo   = "type.googleapis.com/google.rpc.RetryInfo"
	typeQuota       = "type.googleapis.com/google.rpc.QuotaFailure"
	typeHelp        = "type.googleapis.com/google.rpc.Help"
	defaultText     = "Here is the staged room with mid-century furniture:"
	thoughtText     = "**Planning the layout**\n\nI'm placing a sofa along the long wall and keeping the window light."
	defaultRetry    = "53s"
	jsonContentType = "application/json; charset=UTF-8"
)

func keyInvalidStatus() rpcStatus {
	return rpcStatus{
		Code: http.StatusBadRequest, Message: msgKeyInvalid, Status: "INVALID_ARGUMENT",
		Details: []map[string]any{
			{"@type": typeErrorInfo, "reason": "API_KEY_INVALID", "domain": "googleapis.com",
				"metadata": map[string]any{"service": "generativelanguage.googleapis.com"}},
			{"@type": typeLocalized, "locale": "en-US", "message": msgKeyInvalid},
		},
	}
}

func modelNotFoundStatus(model, version, action string) rpcStatus {
	return rpcStatus{
		Code: http.StatusNotFound, Status: "NOT_FOUND",
		Message: fmt.Sprintf("models/%s is not found for API version %s, or is not supported for %s. "+
			"Call ListModels to see the list of available models and their supported methods.", model, version, action),
	}
}

func rateLimitedStatus(model string, sc Scenario) rpcStatus {
	delay := sc.RetryDelay
	if delay == "" {
		delay = defaultRetry
	}
	msg := "You exceeded your current quota, please check your plan and billing details. " +
		"For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
	st := rpcStatus{
		Code: http.StatusTooManyRequests, Status: "RESOURCE_EXHAUSTED",
		Details: []map[string]any{
			{"@type": typeQuota, "violations": []any{map[string]any{
				"quotaMetric":     "generativelanguage.googleapis.com/generate_content_free_tier_requests",
				"quotaId":         "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
				"quotaDimensions": map[string]any{"location": "global", "model": model},
				"quotaValue":      "10",
			}}},
			{"@type": typeHelp, "links": []any{map[string]any{
				"description": "Learn more about Gemini API quotas",
				"url":         "https://ai.google.dev/gemini-api/docs/rate-limits",
			}}},
		},
	}
	if sc.OmitRetryInfo {
		st.Message = msg
	} else {
		st.Message = msg + " Please retry in " + delay + "."
		st.Details = append(st.Details, map[string]any{"@type": typeRetryInfo, "retryDelay": delay})
	}
	return st
}

func unavailableStatus(sc Scenario) rpcStatus {
	st := rpcStatus{Code: http.StatusServiceUnavailable, Message: msgOverloaded, Status: "UNAVAILABLE"}
	if sc.RetryDelay != "" {
		st.Details = []map[string]any{{"@type": typeRetryInfo, "retryDelay": sc.RetryDelay}}
	}
	return st
}

func keyEchoStatus(key string, sc Scenario) rpcStatus {
	code := sc.Status
	if code == 0 {
		code = http.StatusBadRequest
	}
	msg := fmt.Sprintf("Request for key=%s was rejected by the backend (credential %s).", key, key)
	return rpcStatus{
		Code: code, Message: msg, Status: canonicalStatus(code),
		Details: []map[string]any{{"@type": typeLocalized, "locale": "en-US", "message": msg}},
	}
}

// canonicalStatus is the google.rpc.Code name the API pairs with an HTTP status.
func canonicalStatus(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "FAILED_PRECONDITION"
}

func encodeError(st rpcStatus) []byte {
	b, err := json.MarshalIndent(map[string]rpcStatus{"error": st}, "", "  ")
	if err != nil {
		panic(err) // only maps, strings and numbers: cannot fail
	}
	return b
}

// Lenient request types: proto3 JSON parsers accept both the lowerCamelCase
// and the original snake_case field names, so the fake does too.

type wireRequest struct {
	Contents              []wireContent   `json:"contents"`
	GenerationConfig      json.RawMessage `json:"generationConfig"`
	GenerationConfigSnake json.RawMessage `json:"generation_config"`
}

type wireContent struct {
	Role  string     `json:"role"`
	Parts []wirePart `json:"parts"`
}

type wirePart struct {
	Text            *string   `json:"text"`
	Thought         bool      `json:"thought"`
	InlineData      *wireBlob `json:"inlineData"`
	InlineDataSnake *wireBlob `json:"inline_data"`
}

type wireBlob struct {
	MIMEType      string `json:"mimeType"`
	MIMETypeSnake string `json:"mime_type"`
	Data          string `json:"data"`
}

// decodeBytes accepts standard or URL-safe base64, padded or not, as proto3
// JSON parsers do.
func decodeBytes(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// supportedInputMIME lists the input image types of the Gemini API
// (docs/providers.md, Gemini: limits). Text-ish types are out of scope for an image editor.
func supportedInputMIME(m string) bool {
	switch strings.ToLower(m) {
	case "image/png", "image/jpeg", "image/webp", "image/heic", "image/heif":
		return true
	}
	return false
}

// lookup reads key from a generationConfig-like map under its camelCase or
// snake_case spelling.
func lookup(m map[string]any, camel, snake string) (any, bool) {
	if v, ok := m[camel]; ok {
		return v, true
	}
	v, ok := m[snake]
	return v, ok
}

// wantsText reports whether responseModalities (case-insensitive) allows a
// text part; absent modalities mean the model's default (text and image).
func wantsText(gc map[string]any) bool {
	v, ok := lookup(gc, "responseModalities", "response_modalities")
	list, _ := v.([]any)
	if !ok || len(list) == 0 {
		return true
	}
	for _, m := range list {
		if s, _ := m.(string); strings.EqualFold(s, "TEXT") {
			return true
		}
	}
	return false
}

// wantsImage reports whether responseModalities allows an image.
func wantsImage(gc map[string]any) bool {
	v, ok := lookup(gc, "responseModalities", "response_modalities")
	list, _ := v.([]any)
	if !ok || len(list) == 0 {
		return true
	}
	for _, m := range list {
		if s, _ := m.(string); strings.EqualFold(s, "IMAGE") {
			return true
		}
	}
	return false
}

// outputSize follows imageConfig.aspectRatio and imageSize at a tiny scale:
// the long side is 64 px for 1K, 128 for 2K, 256 for 4K. Without an aspect
// ratio the fake answers 64x48.
func outputSize(gc map[string]any) (w, h int) {
	long := 64
	var aspect string
	if v, ok := lookup(gc, "imageConfig", "image_config"); ok {
		if ic, ok := v.(map[string]any); ok {
			if a, ok := lookup(ic, "aspectRatio", "aspect_ratio"); ok {
				aspect, _ = a.(string)
			}
			if s, ok := lookup(ic, "imageSize", "image_size"); ok {
				switch str, _ := s.(string); strings.ToUpper(str) {
				case "2K":
					long = 128
				case "4K":
					long = 256
				}
			}
		}
	}
	aw, ah, ok := parseAspect(aspect)
	if !ok {
		return long, long * 3 / 4
	}
	if aw >= ah {
		return long, max(1, long*ah/aw)
	}
	return max(1, long*aw/ah), long
}

func parseAspect(s string) (w, h int, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	w, err1 := strconv.Atoi(a)
	h, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || w <= 0 || h <= 0 {
		return 0, 0, false
	}
	return w, h, true
}

// PNG returns a w×h PNG filled with a gradient tinted by hue (0–255), so
// different images (a draft and a final one) have different bytes. Tests
// may use it for inputs and expected outputs.
func PNG(w, h int, hue uint8) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: hue, G: uint8(x * 255 / max(1, w)), B: uint8(y * 255 / max(1, h)), A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding to memory cannot fail
	}
	return buf.Bytes()
}
