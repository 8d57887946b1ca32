package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Block Kit limits Slack enforces on messages (https://docs.slack.dev/reference/block-kit).
const (
	maxBlocks          = 50
	maxSectionText     = 3000
	maxSectionFields   = 10
	maxFieldText       = 2000
	maxHeaderText      = 150
	maxButtonText      = 75
	maxButtonValue     = 2000
	maxButtonURL       = 3000
	maxID              = 255 // block_id and action_id
	maxActionsElements = 25
	maxContextElements = 10
)

// validateBlocks checks a blocks argument the way chat.postMessage does. A value that is not
// a JSON array of objects is invalid_blocks_format; every broken limit becomes one of Slack's
// response_metadata messages ("[ERROR] must be less than 3001 characters
// [json-pointer:/blocks/0/text/text]"), and any message means invalid_blocks. An empty array
// is valid and means "no blocks".
func validateBlocks(raw string) (json.RawMessage, []string, *slackError) {
	var blocks []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &blocks); err != nil {
		return nil, nil, refuse("invalid_blocks_format")
	}
	for _, b := range blocks {
		if b == nil {
			return nil, nil, refuse("invalid_blocks_format")
		}
	}
	if len(blocks) == 0 {
		return nil, nil, nil
	}
	v := &validator{blockIDs: map[string]bool{}}
	if len(blocks) > maxBlocks {
		v.addf("/blocks", "no more than %d items allowed", maxBlocks)
	}
	for i, b := range blocks {
		v.block(fmt.Sprintf("/blocks/%d", i), b)
	}
	compact, err := compactJSON(raw)
	if err != nil {
		return nil, nil, refuse("invalid_blocks_format")
	}
	return compact, v.problems, nil
}

type validator struct {
	problems []string
	blockIDs map[string]bool
}

func (v *validator) addf(pointer, format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf("[ERROR] "+format+" [json-pointer:%s]", append(args, pointer)...))
}

func (v *validator) block(at string, b map[string]json.RawMessage) {
	typ, ok := str(b["type"])
	if !ok || typ == "" {
		v.addf(at, "missing required field: type")
		return
	}
	if id, ok := str(b["block_id"]); ok {
		v.id(at+"/block_id", id)
		if v.blockIDs[id] {
			v.addf(at+"/block_id", "duplicate block_id %q", id)
		}
		v.blockIDs[id] = true
	}
	actionIDs := map[string]bool{}
	switch typ {
	case "section":
		_, hasText := b["text"]
		fields := array(b["fields"])
		if !hasText && len(fields) == 0 {
			v.addf(at, "must provide either text or fields")
		}
		if hasText {
			v.text(at+"/text", b["text"], maxSectionText, false)
		}
		if len(fields) > maxSectionFields {
			v.addf(at+"/fields", "no more than %d items allowed", maxSectionFields)
		}
		for i, f := range fields {
			v.text(fmt.Sprintf("%s/fields/%d", at, i), f, maxFieldText, false)
		}
		if acc, ok := b["accessory"]; ok {
			v.element(at+"/accessory", acc, actionIDs)
		}
	case "header":
		v.text(at+"/text", b["text"], maxHeaderText, true)
	case "actions":
		elements := array(b["elements"])
		if len(elements) == 0 {
			v.addf(at+"/elements", "must provide at least 1 items")
		}
		if len(elements) > maxActionsElements {
			v.addf(at+"/elements", "no more than %d items allowed", maxActionsElements)
		}
		for i, e := range elements {
			v.element(fmt.Sprintf("%s/elements/%d", at, i), e, actionIDs)
		}
	case "context":
		elements := array(b["elements"])
		if len(elements) == 0 {
			v.addf(at+"/elements", "must provide at least 1 items")
		}
		if len(elements) > maxContextElements {
			v.addf(at+"/elements", "no more than %d items allowed", maxContextElements)
		}
		for i, e := range elements {
			var el map[string]json.RawMessage
			if json.Unmarshal(e, &el) != nil {
				v.addf(fmt.Sprintf("%s/elements/%d", at, i), "must be an object")
				continue
			}
			if t, _ := str(el["type"]); t == "mrkdwn" || t == "plain_text" {
				v.text(fmt.Sprintf("%s/elements/%d", at, i), e, maxSectionText, false)
			}
		}
	}
}

// element checks an interactive element; action_ids must be unique within their block.
func (v *validator) element(at string, raw json.RawMessage, actionIDs map[string]bool) {
	var e map[string]json.RawMessage
	if json.Unmarshal(raw, &e) != nil || e == nil {
		v.addf(at, "must be an object")
		return
	}
	if id, ok := str(e["action_id"]); ok {
		v.id(at+"/action_id", id)
		if actionIDs[id] {
			v.addf(at+"/action_id", "duplicate action_id %q", id)
		}
		actionIDs[id] = true
	}
	typ, _ := str(e["type"])
	if typ != "button" {
		return
	}
	v.text(at+"/text", e["text"], maxButtonText, true)
	if val, ok := str(e["value"]); ok && utf8.RuneCountInString(val) > maxButtonValue {
		v.addf(at+"/value", "must be less than %d characters", maxButtonValue+1)
	}
	if u, ok := str(e["url"]); ok && utf8.RuneCountInString(u) > maxButtonURL {
		v.addf(at+"/url", "must be less than %d characters", maxButtonURL+1)
	}
	if style, ok := str(e["style"]); ok && style != "primary" && style != "danger" {
		v.addf(at+"/style", "must be one of [primary, danger]")
	}
}

// text checks a text object: a type Slack knows, 1..max characters.
func (v *validator) text(at string, raw json.RawMessage, max int, plainOnly bool) {
	var t map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &t) != nil || t == nil {
		v.addf(at, "missing required field: text")
		return
	}
	typ, _ := str(t["type"])
	switch {
	case plainOnly && typ != "plain_text":
		v.addf(at+"/type", "must be plain_text")
	case typ != "plain_text" && typ != "mrkdwn":
		v.addf(at+"/type", "must be one of [plain_text, mrkdwn]")
	}
	s, ok := str(t["text"])
	switch n := utf8.RuneCountInString(s); {
	case !ok || n == 0:
		v.addf(at+"/text", "must be more than 0 characters")
	case n > max:
		v.addf(at+"/text", "must be less than %d characters", max+1)
	}
}

func (v *validator) id(at, id string) {
	if utf8.RuneCountInString(id) > maxID {
		v.addf(at, "must be less than %d characters", maxID+1)
	}
}

func str(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func array(raw json.RawMessage) []json.RawMessage {
	var a []json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &a) != nil {
		return nil
	}
	return a
}

func compactJSON(raw string) (json.RawMessage, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(raw)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
