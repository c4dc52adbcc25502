package provider

import (
	"fmt"
	"strings"

	"frameforge"
)

// Chain is one fallback chain as the operator wrote it: the primary's name
// first, then the names to try after it, in order (PROVIDER_FALLBACKS
// "google>fal:fal-ai/nano-banana/edit>openai").
type Chain []string

func (c Chain) String() string { return strings.Join(c, ">") }

// ParseChains reads PROVIDER_FALLBACKS: chains separated by commas, the
// names of one chain by ">", blanks around either ignored. It checks the
// syntax only; WithFallbacks checks the names against the table. An empty
// value is no chains.
func ParseChains(spec string) ([]Chain, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, nil
	}
	var out []Chain
	for i, raw := range strings.Split(spec, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return nil, fmt.Errorf("chain %d is empty (chains are separated by commas, e.g. \"google>openai,openai>google\")", i+1)
		}
		var c Chain
		for _, name := range strings.Split(raw, ">") {
			name = strings.TrimSpace(name)
			if name == "" {
				return nil, fmt.Errorf("chain %d %q has an empty provider name (names are separated by '>', e.g. \"google>openai\")", i+1, raw)
			}
			c = append(c, name)
		}
		if len(c) < 2 {
			return nil, fmt.Errorf("chain %d %q names only one provider: a chain is the primary, then at least one provider to try after it (\"%s>openai\")", i+1, raw, c[0])
		}
		out = append(out, c)
	}
	return out, nil
}

// link is one provider of a resolved chain: the name it resolves with, and
// what it is, to match a request's route.
type link struct {
	name   string // canonical: the route id ("google", "fal:fal-ai/nano-banana/edit", "openai")
	family string
	model  string
}

func (l link) same(family, model string) bool { return l.family == family && l.model == model }

// WithFallbacks returns a copy of the registry that knows the chains. Each
// name must resolve as a request's provider name would; a chain may not
// name one provider twice, and one provider may head at most one chain
// (otherwise which one applies would be ambiguous). The error names the
// bad entry.
func (r *Registry) WithFallbacks(chains []Chain) (*Registry, error) {
	out := &Registry{entries: r.entries}
	for i, c := range chains {
		var links []link
		for _, name := range c {
			route, err := r.Resolve(name, nil)
			if err != nil {
				return nil, fmt.Errorf("%q in chain %d %q is not a provider: %s", name, i+1, c.String(), frameforge.ErrorMessage(err))
			}
			l := link{name: route.ID, family: route.Family, model: route.Model}
			for _, prev := range links {
				if prev.same(l.family, l.model) {
					return nil, fmt.Errorf("chain %d %q names %q twice", i+1, c.String(), name)
				}
			}
			links = append(links, l)
		}
		for j, prev := range out.chains {
			if prev[0].same(links[0].family, links[0].model) {
				return nil, fmt.Errorf("chains %d and %d both start with %q: a provider heads at most one chain", j+1, i+1, links[0].name)
			}
		}
		out.chains = append(out.chains, links)
	}
	return out, nil
}

// Chains are the fallback chains by their canonical names, for the start-up
// log and /api/providers.
func (r *Registry) Chains() []Chain {
	out := make([]Chain, 0, len(r.chains))
	for _, links := range r.chains {
		c := make(Chain, len(links))
		for i, l := range links {
			c[i] = l.name
		}
		out = append(out, c)
	}
	return out
}

// Fallbacks are the routes to try, in order, when primary fails with a
// failure another provider might not have: the rest of the chain that
// primary heads (matched by provider and model, so "openai" and
// "openai:gpt-image-2" are one), each with the request's key for that
// provider or the server's. A per-request key stays with its own provider.
// Providers with no key (they would only answer with the development
// fallback) and without an implementation are left out.
func (r *Registry) Fallbacks(primary Route, creds Credentials) []Route {
	for _, links := range r.chains {
		if !links[0].same(primary.Family, primary.Model) {
			continue
		}
		var out []Route
		for _, l := range links[1:] {
			route, err := r.Resolve(l.name, creds)
			if err != nil || route.Key.Empty() || route.Provider == nil {
				continue
			}
			out = append(out, route)
		}
		return out
	}
	return nil
}
