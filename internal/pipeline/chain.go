package pipeline

import (
	"context"
	"errors"
	"strings"

	"frameforge"
	"frameforge/internal/provider"
)

// callChain asks the input's route and, while a provider fails in a way
// the next might not (FallsThrough), each of its fallbacks in turn, all
// with the same prepared images and prompt: nothing is prepared twice. The
// caller holds one provider slot for the whole walk, and calls are one at a
// time, so the edit has at most one call in flight; ctx (the edit's
// deadline) covers every call. It returns the answer and the route that
// gave it, and every provider called.
//
// When more than one provider was called and the last fails, the error is
// the last one's (its code, so its status, and its Retry-After), with a
// message that names every provider tried and why each failed.
func (p *Pipeline) callChain(ctx context.Context, in Input, req frameforge.EditRequest) (frameforge.Image, provider.Route, []Attempt, error) {
	routes := append([]provider.Route{in.Route}, in.Fallbacks...)
	var tried []Attempt
	for i, route := range routes {
		r := req
		r.Model, r.Key = route.Model, route.Key
		if i == len(routes)-1 {
			// No provider comes after this one: the call is the images'
			// last holder, and a provider lets go of them once they are
			// sent (fal while its job runs), so a slow answer does not
			// keep the upload in memory.
			req.Images = nil
		}
		out, err := p.call(ctx, route, r, in.RequestID)
		tried = append(tried, Attempt{Provider: route.ID, Model: route.Model, Code: frameforge.ErrorCode(err)})
		if err == nil {
			return out, route, tried, nil
		}
		if i == len(routes)-1 || !FallsThrough(err) || ctx.Err() != nil {
			return frameforge.Image{}, route, tried, chainError(err, tried)
		}
		next := routes[i+1]
		reason := frameforge.ErrorCode(err)
		p.m.ProviderFallback(route.ID, next.ID, reason)
		p.log.WarnContext(ctx, "provider failed; trying the next provider of its fallback chain", "request_id", in.RequestID,
			"from", route.ID, "to", next.ID, "reason", reason)
	}
	panic("unreachable: a chain has at least its primary")
}

// FallsThrough reports whether a failed provider call may be handed to the
// next provider of a fallback chain: failures of that provider, not of the
// request — its quota (429), overload or outage (5xx, connection errors
// after its own retries), its slowness, an answer without an image, the
// server's own key for it being refused (the operator's problem, not the
// client's). Refusals of the request never fall through: a safety block, an
// input the provider called invalid, the client's own key, limits, a
// cancelled request; another provider would refuse them as well, or the
// client must change something.
func FallsThrough(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	switch frameforge.ErrorCode(err) {
	case frameforge.EUpstreamRateLimit, frameforge.EUpstreamUnavail, frameforge.EUpstreamError,
		frameforge.EUpstreamTimeout, frameforge.ENoImageReturned, frameforge.EProviderAuth:
		return true
	}
	return false
}

// chainError is err, or when several providers were called, err with a
// message naming each and how it failed: "… Providers tried in turn:
// google (upstream_rate_limited), openai (upstream_unavailable)."
func chainError(err error, tried []Attempt) error {
	if len(tried) < 2 {
		return err
	}
	names := make([]string, len(tried))
	for i, a := range tried {
		names[i] = a.Provider + " (" + a.Code + ")"
	}
	msg := strings.TrimSpace(frameforge.ErrorMessage(err))
	if msg != "" && !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return &frameforge.Error{Code: frameforge.ErrorCode(err), RetryAfter: frameforge.RetryAfter(err), Err: err,
		Message: msg + " Providers tried in turn: " + strings.Join(names, ", ") + "."}
}
