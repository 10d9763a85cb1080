//go:build tools

// Package tools records the packages that build-tools.sh compiles, so that
// `go mod tidy` keeps every dependency of pulumi-resource-kubernetes (and of
// its generate.go) in go.sum.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
	_ "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)
