package provider

import (
	"log/slog"
	"net/http"

	"frameforge"
	"frameforge/internal/envconf"
	"frameforge/internal/provider/fal"
	"frameforge/internal/provider/gemini"
	"frameforge/internal/provider/openai"
)

// Builtin is the table of providers this build knows, the default first.
func Builtin() []Spec { return []Spec{Google(), Fal(), OpenAI()} }

// Google is Gemini's image model ("Nano Banana"): one model, chosen by the
// operator (GOOGLE_MODEL_ID). See docs/providers.md, Gemini.
func Google() Spec {
	return Spec{
		ID:         "google",
		Aliases:    []string{"nano-banana"},
		Label:      "Nano Banana (Google Gemini)",
		KeyHeaders: []KeyHeader{{Name: "X-Google-API-Key"}, {Name: "X-Gemini-API-Key"}},
		KeyEnv:     []string{"GOOGLE_API_KEY", "GEMINI_API_KEY"},
		Load: func(env *envconf.Reader) Setup {
			c := gemini.LoadConfigFromEnv(env)
			return Setup{Model: c.Model, Settings: c.LogValue(),
				New: func(hc *http.Client, log *slog.Logger) frameforge.Provider { return gemini.New(c, hc, log) }}
		},
	}
}

// Fal is any model on fal.ai's queue, named "fal:<model path>". The
// Authorization header carries a fal key for compatibility with the Python
// backend's clients. See docs/providers.md, fal.ai.
func Fal() Spec {
	return Spec{
		ID:         "fal",
		Label:      "fal.ai",
		KeyHeaders: []KeyHeader{{Name: "X-Fal-Key"}, {Name: "Authorization", Schemes: []string{"Bearer", "Key"}}},
		KeyEnv:     []string{"FAL_KEY"},
		Prefix:     "fal:",
		ParseModel: fal.ValidateEndpointID,
		Models:     fal.KnownModels(),
		Load: func(env *envconf.Reader) Setup {
			c := fal.LoadConfigFromEnv(env)
			return Setup{Settings: c.LogValue(),
				New: func(hc *http.Client, log *slog.Logger) frameforge.Provider { return fal.New(c, hc, log) }}
		},
	}
}

// OpenAI is OpenAI's GPT image models through the image-edits endpoint:
// "openai" is the operator's model (OPENAI_IMAGE_MODEL), "openai:<model>"
// any current GPT image model. See docs/providers.md, OpenAI.
func OpenAI() Spec {
	return Spec{
		ID:         "openai",
		Label:      "OpenAI",
		KeyHeaders: []KeyHeader{{Name: "X-OpenAI-Key"}},
		KeyEnv:     []string{"OPENAI_API_KEY"},
		Prefix:     "openai:",
		ParseModel: openai.ParseModel,
		Models:     []string{openai.DefaultModel},
		Load: func(env *envconf.Reader) Setup {
			c := openai.LoadConfigFromEnv(env)
			return Setup{Model: c.Model, Settings: c.LogValue(),
				New: func(hc *http.Client, log *slog.Logger) frameforge.Provider { return openai.New(c, hc, log) }}
		},
	}
}
