//go:build deps

package main

// This file pins, in go.mod, the design's dependencies that the engine does
// not import yet (fastjson), at versions checked to build and start on this
// toolchain, and go4.org/unsafe/assume-no-moving-gc, which gorgonia
// (compute/model) needs at a version that knows Go 1.26, or it panics at
// start. The build tag keeps them out of every build; go mod tidy
// still sees them. Each line goes away when real code imports the package.
import (
	_ "github.com/valyala/fastjson"
	_ "go4.org/unsafe/assume-no-moving-gc"
)
