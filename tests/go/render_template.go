// Executes an Ollama TEMPLATE the way Ollama does for chat requests: the template over
// {System, Messages}, where Messages holds every message (system ones included) and System
// joins the system messages, and Think/IsThinkSet from the request's `think` (absent: not set).
// Reads {"template", "messages", "think"} as JSON on stdin.
package main

import (
	"encoding/json"
	"os"
	"strings"
	"text/template"
	"time"
)

type Message struct { // the fields of Ollama's api.Message that templates read
	Role      string   `json:"role"`
	Content   string   `json:"content"`
	Thinking  string   `json:"thinking"`
	Images    []string `json:"images"`
	ToolCalls []any    `json:"tool_calls"`
	ToolName  string   `json:"tool_name"`
}

type Input struct {
	Template string    `json:"template"`
	Messages []Message `json:"messages"`
	Think    *bool     `json:"think"`
}

func main() {
	var in Input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		panic(err)
	}
	var system []string
	for _, m := range in.Messages {
		if m.Role == "system" {
			system = append(system, m.Content)
		}
	}
	funcs := template.FuncMap{ // as Ollama's template package defines them
		"json":             func(v any) string { b, _ := json.Marshal(v); return string(b) },
		"currentDate":      func(args ...string) string { return time.Now().Format("2006-01-02") },
		"yesterdayDate":    func(args ...string) string { return time.Now().AddDate(0, 0, -1).Format("2006-01-02") },
		"toTypeScriptType": func(v any) string { return "any" },
	}
	tmpl := template.Must(template.New("").Option("missingkey=zero").Funcs(funcs).Parse(in.Template))
	values := map[string]any{"System": strings.Join(system, "\n\n"), "Messages": in.Messages, "Response": "",
		"IsThinkSet": in.Think != nil, "Think": in.Think != nil && *in.Think, "Tools": []any{}, "ThinkLevel": ""}
	if err := tmpl.Execute(os.Stdout, values); err != nil {
		panic(err)
	}
}
