package breaker_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/dialguard/dialguard/breaker"
)

func Example() {
	reg, err := breaker.NewRegistry(breaker.Settings{
		ConsecutiveFailures: 2,
		OpenTimeout:         time.Second,
		OnStateChange: func(key string, from, to breaker.State) {
			fmt.Printf("%s: %v -> %v\n", key, from, to)
		},
	})
	if err != nil {
		panic(err)
	}

	// dial stands for a real dial: ask, try, report.
	dial := func(addr string, ok bool) error {
		done, err := reg.Allow(addr)
		if err != nil {
			return err // breaker.ErrOpen: fail fast, no socket
		}
		if !ok {
			done.Done(breaker.Failure)
			return errors.New("connection refused")
		}
		done.Done(breaker.Success)
		return nil
	}

	fmt.Println(dial("[::1]:8080", false))
	fmt.Println(dial("[::1]:8080", false))
	err = dial("[::1]:8080", true)
	fmt.Println(err, errors.Is(err, breaker.ErrOpen))
	fmt.Println(reg.State("[::1]:8080"), reg.State("127.0.0.1:8080"))

	// Output:
	// connection refused
	// [::1]:8080: closed -> open
	// connection refused
	// dialguard: circuit open true
	// open closed
}
