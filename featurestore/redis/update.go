package redis

import (
	"context"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// casSource is the compare-and-set script. KEYS[1] is the key; ARGV[1] is
// "1" when the caller saw the key present with value ARGV[2] and "0" when
// it saw it absent; ARGV[3] is the new value; ARGV[4] the ttl in
// milliseconds, "0" for none. It answers 1 when it wrote, 0 when the key
// no longer holds what the caller saw. Lua strings are binary-safe, so the
// comparison is of the exact bytes.
const casSource = `local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
if ARGV[4] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1`

// cas holds the script and its SHA-1, computed once.
var cas = goredis.NewScript(casSource)

// Update read-modify-writes keys with an optimistic compare-and-set per key
// (see the package documentation): fn(i, old) gets keys[i]'s value, nil
// when absent, and returns the new value or nil to leave the key as it is.
// A key another writer changed between the read and the write is read
// again and fn called again with the newer value; retries wait for other
// retries of the same keys in this Store (under ctx), and after 32 lost
// attempts Update fails with an error matching ErrContention. An error from fn stops Update and is
// returned as is; keys already written stay written. With ttl > 0 the
// written keys expire ttl after the write; with 0 they never do (a write
// clears an earlier ttl, as Put's does).
func (s *Store) Update(ctx context.Context, keys [][]byte, ttl time.Duration, fn func(i int, old []byte) ([]byte, error)) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("%w: negative ttl %v", ErrInvalidArgument, ttl)
	}
	if len(keys) == 0 {
		return nil
	}
	defer s.invalidate(keys) // also after a failure, which may have written some
	rkeys := s.keyArgs(keys)
	ms := ttlMillis(ttl)
	sha := cas.Hash()

	pending := make([]int, len(keys))
	for i := range pending {
		pending[i] = i
	}
	var (
		olds    = make([]string, len(keys))
		present = make([]bool, len(keys))
		args    = make([]any, 0, len(keys))
		cmds    []*goredis.Cmd
		sent    []int // sent[j] is the key index of cmds[j]
		lost    []int
		oldBuf  []byte // this attempt's old values, end to end
	)
	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt == maxUpdateAttempts {
			return &OpError{Op: "update", Addr: s.addr, Err: fmt.Errorf(
				"%w: %d of %d keys lost their compare-and-set %d times", ErrContention, len(pending), len(keys), maxUpdateAttempts)}
		}
		if attempt == 1 {
			// Lost once: retry the lost keys behind every other retry of
			// them in this process (see retryLocks).
			unlock, err := s.retryLocks.lock(ctx, rkeys, pending)
			if err != nil {
				return opError(ctx, "update", s.addr, err)
			}
			defer unlock()
		}
		if attempt > 0 {
			if err := sleepBackoff(ctx, attempt); err != nil {
				return opError(ctx, "update", s.addr, err)
			}
		}

		// Read the current values.
		args = args[:0]
		for _, i := range pending {
			args = append(args, rkeys[i])
			olds[i], present[i] = "", false
		}
		err := s.mget(ctx, args, func(j int, v string) {
			i := pending[j]
			olds[i], present[i] = v, true
		})
		if err != nil {
			return opError(ctx, "update", s.addr, err)
		}

		// Compute the new values. Each old value is a slice of oldBuf
		// whose capacity ends with it, so that a fn returning old modified
		// in place, or appended to, cannot overwrite another key's.
		size := 0
		for _, i := range pending {
			size += len(olds[i])
		}
		if oldBuf == nil || cap(oldBuf) < size {
			oldBuf = make([]byte, 0, size)
		}
		oldBuf = oldBuf[:0]
		cmds, sent = cmds[:0], sent[:0]
		for _, i := range pending {
			var old []byte
			if present[i] {
				start := len(oldBuf)
				oldBuf = append(oldBuf, olds[i]...)
				old = oldBuf[start:len(oldBuf):len(oldBuf)]
			}
			nv, err := fn(i, old)
			if err != nil {
				return err
			}
			if nv == nil {
				continue
			}
			seen := "0"
			if present[i] {
				seen = "1"
			}
			cmd := goredis.NewCmd(ctx, "evalsha", sha, 1, rkeys[i], seen, olds[i], nv, ms)
			cmd.SetFirstKeyPos(3)
			cmds = append(cmds, cmd)
			sent = append(sent, i)
		}

		// Compare and set; keys that lost go round again.
		lost, err = s.compareAndSet(ctx, cmds, sent, lost[:0])
		if err != nil {
			return opError(ctx, "update", s.addr, err)
		}
		pending = append(pending[:0], lost...)
	}
	return nil
}

// compareAndSet sends the EVALSHA commands cmds, sending those a node
// answers NOSCRIPT again as EVAL, and appends to lost the key index
// (sent[j]) of every command that answered 0.
func (s *Store) compareAndSet(ctx context.Context, cmds []*goredis.Cmd, sent, lost []int) ([]int, error) {
	if len(cmds) == 0 {
		return lost, nil
	}
	if err := s.pipeline(ctx, asCmders(cmds), isNoScript); err != nil {
		return lost, err
	}
	var (
		retry     []*goredis.Cmd
		retrySent []int
	)
	for j, cmd := range cmds {
		if isNoScript(cmd.Err()) {
			args := append([]any{"eval", casSource}, cmd.Args()[2:]...)
			eval := goredis.NewCmd(ctx, args...)
			eval.SetFirstKeyPos(3)
			retry = append(retry, eval)
			retrySent = append(retrySent, sent[j])
			continue
		}
		var err error
		if lost, err = appendLost(lost, cmd, sent[j]); err != nil {
			return lost, err
		}
	}
	if len(retry) == 0 {
		return lost, nil
	}
	if err := s.pipeline(ctx, asCmders(retry), nil); err != nil {
		return lost, err
	}
	for j, cmd := range retry {
		var err error
		if lost, err = appendLost(lost, cmd, retrySent[j]); err != nil {
			return lost, err
		}
	}
	return lost, nil
}

// appendLost appends i to lost when the script cmd answered 0.
func appendLost(lost []int, cmd *goredis.Cmd, i int) ([]int, error) {
	n, err := cmd.Int64()
	if err != nil {
		return lost, fmt.Errorf("compare-and-set script: %w", err)
	}
	if n == 0 {
		lost = append(lost, i)
	}
	return lost, nil
}

func isNoScript(err error) bool { return goredis.HasErrorPrefix(err, "NOSCRIPT") }

// asCmders returns cmds as go-redis must send them: never twice.
func asCmders(cmds []*goredis.Cmd) []goredis.Cmder {
	out := make([]goredis.Cmder, len(cmds))
	for i, c := range cmds {
		out[i] = noRetryCmd{c}
	}
	return out
}

// noRetryCmd is a command go-redis does not resend after a network error:
// one pipeline holding it is not resent (MOVED and ASK redirects, which
// mean the command did not run, are still followed). A compare-and-set
// whose reply was lost may have been applied; resending it would fail its
// comparison against its own write, and the retry would call fn again on
// the value fn already produced: an increment would count twice. Failing
// the Update instead surfaces the ambiguity to the caller.
type noRetryCmd struct{ *goredis.Cmd }

// NoRetry implements goredis.Cmder.
func (noRetryCmd) NoRetry() bool { return true }

// retryStripes is the number of locks retries of Update queue on.
const retryStripes = 256

// retryLocks serialises, within one Store, the retries of Updates whose
// compare-and-set lost. Without it, goroutines hammering one hot key (a
// view's push watermark, say) lose to each other at random and one can
// lose every attempt; with it, only one of them at a time retries a key,
// against at most the fresh first attempts of the others, so its attempts
// are not a lottery among all of them. First attempts take no lock, so an
// uncontended Update costs nothing. Keys hash to retryStripes locks,
// acquired in increasing order (no deadlock) and waited for under ctx.
// Writers in other processes remain merely optimistic.
type retryLocks struct {
	once    sync.Once
	stripes [retryStripes]chan struct{}
}

// lock takes the locks of the Redis keys rkeys[i] for i in pending and
// returns their release.
func (l *retryLocks) lock(ctx context.Context, rkeys []any, pending []int) (func(), error) {
	l.once.Do(func() {
		for i := range l.stripes {
			l.stripes[i] = make(chan struct{}, 1)
		}
	})
	var want [retryStripes]bool
	for _, i := range pending {
		h := uint32(2166136261)
		for _, c := range rkeys[i].([]byte) {
			h ^= uint32(c)
			h *= 16777619
		}
		want[h%retryStripes] = true
	}
	var held []int
	unlock := func() {
		for _, st := range held {
			<-l.stripes[st]
		}
	}
	for st, ok := range want {
		if !ok {
			continue
		}
		select {
		case l.stripes[st] <- struct{}{}:
			held = append(held, st)
		case <-ctx.Done():
			unlock()
			return nil, ctx.Err()
		}
	}
	return unlock, nil
}
