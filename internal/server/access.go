package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"frameforge"
	"frameforge/internal/auth"
	"frameforge/internal/provider"
)

// access is who a request of a protected route comes from, and what it may
// spend: its API token (nil: none, which only AUTH=off lets through) and its
// client key (the address), plus the edit budget when the route spends one.
type access struct {
	token  *auth.Token
	client string
	edits  bool // the route spends the edit budget (its handler calls admit)
	log    *slog.Logger
	rl     *rateLimits
	tokens *auth.Store
}

type accessKey struct{}

func accessFrom(ctx context.Context) *access {
	a, _ := ctx.Value(accessKey{}).(*access)
	return a
}

// withAccess guards a protected route. A token that is sent (Authorization:
// Bearer ff_…, or X-API-Key) is always checked, in every mode, and a bad one
// refused with 401 unauthorized saying why; with AUTH=required a request
// without one is refused too. Unprotected routes never look at tokens.
func withAccess(log *slog.Logger, mode auth.Mode, tokens *auth.Store, rl *rateLimits, edits bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		a := &access{client: clientKey(r, rl.trusted, rl.ipv6Prefix), edits: edits, log: log, rl: rl, tokens: tokens}
		secret := auth.FromHeaders(r.Header.Get)
		switch {
		case secret == "" && mode == auth.Required:
			writeError(w, r, log, frameforge.Errorf(frameforge.EUnauthorized,
				"This server needs an API token: send it as \"Authorization: Bearer ff_…\" or \"X-API-Key: ff_…\". The server's operator creates one with \"frameforge tokens create\"."))
			return
		case secret != "":
			noteSecret(ctx, secret)
			if tokens == nil {
				writeError(w, r, log, frameforge.Errorf(frameforge.EUnauthorized, "The API token is not valid: this server keeps no tokens."))
				return
			}
			tok, err := tokens.Authenticate(ctx, secret)
			if err != nil {
				writeError(w, r, log, err)
				return
			}
			a.token = &tok
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, accessKey{}, a)))
	})
}

// owner is whom a job made by this request belongs to: its token, or
// without one its client address (which scopes idempotency keys).
func (a *access) owner() string {
	if a.token != nil {
		return "token:" + a.token.ID
	}
	return "ip:" + a.client
}

// sees reports whether the caller may see a job of owner: a token's jobs
// only with that token; jobs made without one by anyone holding their id
// (an unguessable capability, as before tokens).
func (a *access) sees(owner string) bool {
	if strings.HasPrefix(owner, "token:") {
		return a.token != nil && owner == "token:"+a.token.ID
	}
	return true
}

// admit spends what an edit admitted toward a provider costs, once the
// request has passed every check (a refused upload costs nothing): one
// request of the edit budget (the token's own rate, or RATE_LIMIT_EDIT per
// token or else per address), and with a token, units of its quota (none
// for a development fallback). The hold it returns is settled when the
// work ends (settle); a refusal is a 429 error.
func (a *access) admit(w http.ResponseWriter, r *http.Request, units int, route provider.Route) (auth.Hold, error) {
	if a == nil {
		return "", nil
	}
	if a.edits {
		key, rule, who := a.client, a.rl.edit, "this client"
		if a.token != nil {
			key, who = "token:"+a.token.ID, "this API token"
			if !a.token.Rate.Off() {
				rule = a.token.Rate
			}
		}
		if err := a.rl.take(w, r, editBudget, key, rule, who); err != nil {
			return "", err
		}
	}
	if a.token == nil || a.tokens == nil || route.Key.Empty() {
		return "", nil
	}
	hold, remaining, err := a.tokens.Reserve(r.Context(), *a.token, units)
	if a.token.Quota != auth.NoQuota {
		w.Header().Set("X-Quota-Remaining", strconv.FormatInt(max(remaining, 0), 10))
	}
	return hold, err
}

// settle ends a hold: kept units count as successful edits of family, the
// rest are given back. It outlives the request's context: a unit must come
// back even when the client has gone.
func (a *access) settle(ctx context.Context, hold auth.Hold, kept int, family string) {
	if hold == "" || a == nil || a.tokens == nil {
		return
	}
	if err := a.tokens.Settle(context.WithoutCancel(ctx), string(hold), kept, family); err != nil {
		a.log.WarnContext(ctx, "settling quota units failed; they stay counted", "request_id", requestIDFrom(ctx), "err", err)
	}
}

// credentials are the provider keys the request carries. "Authorization:
// Bearer ff_…" is an API token, not a fal key: it is kept from the
// provider table, which would otherwise read any Bearer value as one.
func credentials(reg *provider.Registry, r *http.Request) provider.Credentials {
	return reg.Credentials(func(name string) string {
		v := r.Header.Get(name)
		if strings.EqualFold(name, "Authorization") {
			if scheme, tok, ok := strings.Cut(strings.TrimSpace(v), " "); ok && strings.EqualFold(scheme, "Bearer") && auth.IsToken(tok) {
				return ""
			}
		}
		return v
	})
}

// handleUsage serves GET /api/usage: the caller's token and its current
// period. Usage is counted per token, so without one (AUTH=off) it answers
// 401 token_required.
func handleUsage(log *slog.Logger) http.Handler {
	type tokenRef struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	type period struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	type response struct {
		Token      tokenRef         `json:"token"`
		Period     period           `json:"period"`
		Quota      *int64           `json:"quota"`
		Used       int64            `json:"used"`
		Remaining  *int64           `json:"remaining"`
		ByProvider map[string]int64 `json:"by_provider"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := accessFrom(r.Context())
		if a == nil || a.token == nil || a.tokens == nil {
			writeError(w, r, log, frameforge.Errorf(frameforge.ETokenRequired,
				"Usage is counted per API token, and this request carries none: send \"Authorization: Bearer ff_…\" or \"X-API-Key: ff_…\"."))
			return
		}
		u, err := a.tokens.Usage(r.Context(), *a.token)
		if err != nil {
			writeError(w, r, log, err)
			return
		}
		resp := response{Token: tokenRef{a.token.ID, a.token.Name}, Period: period{u.Start, u.End}, Used: u.Used, ByProvider: u.ByProvider}
		if u.Quota != auth.NoQuota {
			q, rem := u.Quota, max(u.Quota-u.Used, 0)
			resp.Quota, resp.Remaining = &q, &rem
			w.Header().Set("X-Quota-Remaining", strconv.FormatInt(rem, 10))
		}
		w.Header().Set("Cache-Control", "no-store")
		encode(w, http.StatusOK, resp)
	})
}
