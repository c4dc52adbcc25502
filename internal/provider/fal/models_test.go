package fal

import (
	"reflect"
	"testing"
)

func TestLookupModel(t *testing.T) {
	tests := []struct {
		id        string
		imageArg  string
		format    string
		maxImages int
	}{
		{"fal-ai/nano-banana/edit", "image_urls", "png", 0},
		{"fal-ai/nano-banana-pro/edit", "image_urls", "png", 0},
		{"fal-ai/qwen-image-edit", "image_url", "png", 1},
		{"fal-ai/qwen-image-edit-plus", "image_urls", "", 0}, // segment match: not qwen-image-edit
		{"fal-ai/flux-kontext/dev", "image_url", "png", 1},
		{"fal-ai/flux-kontext/max", "image_url", "png", 1},
		{"fal-ai/bytedance/seedream/v4/edit", "image_urls", "", 10},
		{"fal-ai/bytedance/seedream/v4.5/edit", "image_urls", "", 10},
		{"someone/new-model/edit", "image_urls", "", 0},
	}
	for _, tt := range tests {
		m := lookupModel(tt.id)
		if m.imageArg != tt.imageArg || m.outputFormat != tt.format || m.maxImages != tt.maxImages {
			t.Errorf("lookupModel(%q) = %s/%q/%d; want %s/%q/%d", tt.id, m.imageArg, m.outputFormat, m.maxImages,
				tt.imageArg, tt.format, tt.maxImages)
		}
	}
}

func TestModelInput(t *testing.T) {
	got := lookupModel("fal-ai/flux-kontext/dev").input("p", []string{"data:a"})
	want := map[string]any{"prompt": "p", "num_images": 1, "sync_mode": true, "image_url": "data:a", "output_format": "png"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flux-kontext input = %v; want %v", got, want)
	}
	got = lookupModel("fal-ai/bytedance/seedream/v4/edit").input("p", []string{"a", "b"})
	want = map[string]any{"prompt": "p", "num_images": 1, "sync_mode": true, "image_urls": []string{"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("seedream input = %v; want %v", got, want)
	}
}

func TestValidateEndpointID(t *testing.T) {
	for _, id := range []string{"fal-ai/flux", "fal-ai/nano-banana/edit", "workflows/me/app", "comfy/me/app/x", "fal-ai/bytedance/seedream/v4.5/edit"} {
		if err := ValidateEndpointID(id); err != nil {
			t.Errorf("ValidateEndpointID(%q) = %v; want nil", id, err)
		}
	}
}
