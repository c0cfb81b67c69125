// Which prompt Ollama 0.30+ builds a chat from when a model has both a Modelfile TEMPLATE and a chat
// template in its GGUF: Ollama's own rule, copied from ollama/ollama (v0.33.0-rc2): server/images.go
// (chatTemplateCapabilities, goTemplateCapabilities, shouldPreferChatTemplate and the tool round-trip
// checks), template/template.go (Vars, Identifiers) and thinking/template.go (InferTags). The Modelfile's
// template capabilities also count `insert` (a `.Suffix`), as Ollama's do.
// Reads {"chat_template", "template"} as JSON on stdin; writes {"selected", "chat", "go"}.
package main

import (
	"encoding/json"
	"os"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

type Input struct {
	ChatTemplate string `json:"chat_template"`
	Template     string `json:"template"`
}

func chatTemplateCapabilities(chatTemplate string) []string {
	var caps []string
	if chatTemplate == "" {
		return caps
	}
	if chatTemplateHasToolSupport(chatTemplate) {
		caps = append(caps, "tools")
	}
	if chatTemplateHasThinkingSupport(chatTemplate) {
		caps = append(caps, "thinking")
	}
	return caps
}

func chatTemplateHasToolSupport(chatTemplate string) bool {
	return strings.Contains(chatTemplate, "tools") || strings.Contains(chatTemplate, "tool_call")
}

func chatTemplateHasToolRoundTrip(chatTemplate string) bool {
	if !chatTemplateHasToolSupport(chatTemplate) {
		return false
	}
	toolCalls := strings.Contains(chatTemplate, "tool_calls") || strings.Contains(chatTemplate, "assistant_tool_call")
	return toolCalls && (strings.Contains(chatTemplate, "tool_response") ||
		strings.Contains(chatTemplate, "tool_results") ||
		strings.Contains(chatTemplate, "role'] == 'tool'") ||
		strings.Contains(chatTemplate, `role'] == "tool"`) ||
		strings.Contains(chatTemplate, `role"] == 'tool'`) ||
		strings.Contains(chatTemplate, `role"] == "tool"`) ||
		strings.Contains(chatTemplate, `message.role == 'tool'`) ||
		strings.Contains(chatTemplate, `message.role == "tool"`) ||
		strings.Contains(chatTemplate, "ipython"))
}

func chatTemplateHasThinkingSupport(chatTemplate string) bool {
	if strings.Contains(chatTemplate, "<think>") && strings.Contains(chatTemplate, "</think>") {
		return true
	}
	return (strings.Contains(chatTemplate, "content.split('</think>')") ||
		strings.Contains(chatTemplate, `content.split("</think>")`)) &&
		!strings.Contains(chatTemplate, "reasoning_content") &&
		!strings.Contains(chatTemplate, "<SPECIAL_12>")
}

func goTemplateCapabilities(t *template.Template) []string {
	var caps []string
	v := vars(t)
	if contains(v, "tools") {
		caps = append(caps, "tools")
	}
	if contains(v, "suffix") {
		caps = append(caps, "insert")
	}
	if opening, closing := inferTags(t); opening != "" && closing != "" {
		caps = append(caps, "thinking")
	}
	return caps
}

func goTemplateHasToolRoundTrip(t *template.Template, raw string) bool {
	v := vars(t)
	if !contains(v, "tools") || !contains(v, "toolcalls") {
		return false
	}
	return strings.Contains(raw, `eq .Role "tool"`) || strings.Contains(raw, "tool_response") ||
		strings.Contains(raw, "TOOL_RESULTS")
}

func contains(list []string, s string) bool { // (Go 1.19, Debian 12's, has no slices package)
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

func sameCapabilities(candidate, current []string) bool {
	if len(candidate) != len(current) {
		return false
	}
	for _, c := range candidate {
		if !contains(current, c) {
			return false
		}
	}
	return true
}

func shouldPreferChatTemplate(chatTemplate string, chatCaps []string, goTemplate *template.Template, raw string, goCaps []string) bool {
	if len(chatCaps) > len(goCaps) {
		return !goTemplateHasToolRoundTrip(goTemplate, raw) || chatTemplateHasToolRoundTrip(chatTemplate)
	}
	if !sameCapabilities(chatCaps, goCaps) || !contains(chatCaps, "tools") || !contains(goCaps, "tools") {
		return false
	}
	return chatTemplateHasToolRoundTrip(chatTemplate) && !goTemplateHasToolRoundTrip(goTemplate, raw)
}

func vars(t *template.Template) []string {
	set := map[string]bool{}
	for _, tt := range t.Templates() {
		for _, n := range tt.Root.Nodes {
			for _, name := range identifiers(n) {
				set[strings.ToLower(name)] = true
			}
		}
	}
	var out []string
	for name := range set {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func identifiers(n parse.Node) []string {
	switch n := n.(type) {
	case *parse.ListNode:
		var names []string
		for _, c := range n.Nodes {
			names = append(names, identifiers(c)...)
		}
		return names
	case *parse.TemplateNode:
		return identifiers(n.Pipe)
	case *parse.ActionNode:
		return identifiers(n.Pipe)
	case *parse.BranchNode:
		names := identifiers(n.Pipe)
		for _, l := range []*parse.ListNode{n.List, n.ElseList} {
			if l != nil {
				names = append(names, identifiers(l)...)
			}
		}
		return names
	case *parse.IfNode:
		return identifiers(&n.BranchNode)
	case *parse.RangeNode:
		return identifiers(&n.BranchNode)
	case *parse.WithNode:
		return identifiers(&n.BranchNode)
	case *parse.PipeNode:
		var names []string
		for _, c := range n.Cmds {
			for _, a := range c.Args {
				names = append(names, identifiers(a)...)
			}
		}
		return names
	case *parse.FieldNode:
		return n.Ident
	case *parse.VariableNode:
		return n.Ident
	}
	return nil
}

func visit(n parse.Node, enter func(parse.Node) bool, exit func(parse.Node)) {
	if n == nil || !enter(n) {
		return
	}
	switch x := n.(type) {
	case *parse.ListNode:
		for _, c := range x.Nodes {
			visit(c, enter, exit)
		}
	case *parse.BranchNode:
		if x.Pipe != nil {
			visit(x.Pipe, enter, exit)
		}
		if x.List != nil {
			visit(x.List, enter, exit)
		}
		if x.ElseList != nil {
			visit(x.ElseList, enter, exit)
		}
	case *parse.ActionNode:
		visit(x.Pipe, enter, exit)
	case *parse.WithNode:
		visit(&x.BranchNode, enter, exit)
	case *parse.RangeNode:
		visit(&x.BranchNode, enter, exit)
	case *parse.IfNode:
		visit(&x.BranchNode, enter, exit)
	case *parse.TemplateNode:
		visit(x.Pipe, enter, exit)
	case *parse.PipeNode:
		for _, c := range x.Cmds {
			visit(c, enter, exit)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			visit(a, enter, exit)
		}
	}
	if exit != nil {
		exit(n)
	}
}

func inferTags(t *template.Template) (string, string) {
	var ancestors []parse.Node
	opening, closing := "", ""
	enter := func(n parse.Node) bool {
		ancestors = append(ancestors, n)
		if x, ok := n.(*parse.FieldNode); ok && len(x.Ident) > 0 && x.Ident[0] == "Thinking" {
			var recent *parse.RangeNode
			for i := len(ancestors) - 1; i >= 0; i-- {
				if r, ok := ancestors[i].(*parse.RangeNode); ok {
					recent = r
					break
				}
			}
			if recent == nil || !rangeUsesField(recent, "Messages") {
				return true
			}
			for i := len(ancestors) - 1; i >= 0; i-- {
				if l, ok := ancestors[i].(*parse.ListNode); ok {
					if t, ok := l.Nodes[0].(*parse.TextNode); ok {
						opening = strings.TrimSpace(t.String())
					}
					if t, ok := l.Nodes[len(l.Nodes)-1].(*parse.TextNode); ok {
						closing = strings.TrimSpace(t.String())
					}
					break
				}
			}
		}
		return true
	}
	exit := func(parse.Node) { ancestors = ancestors[:len(ancestors)-1] }
	visit(t.Root, enter, exit)
	return opening, closing
}

func rangeUsesField(r *parse.RangeNode, field string) bool {
	found := false
	visit(r.BranchNode.Pipe, func(n parse.Node) bool {
		if x, ok := n.(*parse.FieldNode); ok && x.Ident[0] == field {
			found = true
		}
		return true
	}, nil)
	return found
}

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	funcs := template.FuncMap{"json": func(v any) string { return "" }, "currentDate": func(args ...string) string { return "" },
		"yesterdayDate": func(args ...string) string { return "" }, "toTypeScriptType": func(v any) string { return "" }}
	tmpl := template.Must(template.New("").Option("missingkey=zero").Funcs(funcs).Parse(in.Template))
	chatCaps := chatTemplateCapabilities(in.ChatTemplate)
	goCaps := goTemplateCapabilities(tmpl)
	selected := "go_template"
	if in.ChatTemplate != "" && shouldPreferChatTemplate(in.ChatTemplate, chatCaps, tmpl, in.Template, goCaps) {
		selected = "gguf_chat_template"
	}
	out := map[string]any{"selected": selected, "chat": chatCaps, "go": goCaps}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
