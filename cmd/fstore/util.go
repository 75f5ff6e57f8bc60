package main

import (
	"errors"
	"fmt"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func joinErr(errs ...error) error { return errors.Join(errs...) }
