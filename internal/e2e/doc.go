// Package e2e holds resetbot's end-to-end tests and benchmarks: the real bot, wired by
// internal/app as `resetbot run` wires it, on a demo.Stage against the world of fakes, asserting
// on what people see in Slack, what reached each system and what the audit log says.
package e2e
