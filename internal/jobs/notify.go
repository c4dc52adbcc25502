package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgxlisten"
)

// With several replicas on PostgreSQL, a job's row changes on whichever
// replica runs it, and the event stream that shows it may be served by
// another. A trigger on the jobs table tells every replica of each change
// (NOTIFY, channel notifyChannel, payload "<job id>:<status>"), so a stream
// anywhere moves within milliseconds, and a job cancelled through one replica
// stops at once on the replica that runs it. The periodic re-read that
// remains (pollWithListener) only covers a notification lost while the
// listening connection was being re-established.
const notifyChannel = "frameforge_jobs"

// notifySchema is the trigger. Drop-then-create rather than CREATE OR
// REPLACE TRIGGER, which PostgreSQL only has from 14 on; migrations run
// under an advisory lock, so no replica sees the table without it.
var notifySchema = []string{
	`CREATE OR REPLACE FUNCTION frameforge_jobs_notify() RETURNS trigger AS $$
	BEGIN
		PERFORM pg_notify('` + notifyChannel + `', NEW.id || ':' || NEW.status);
		RETURN NULL;
	END;
	$$ LANGUAGE plpgsql`,
	`DROP TRIGGER IF EXISTS frameforge_jobs_notify ON frameforge_jobs`,
	`CREATE TRIGGER frameforge_jobs_notify AFTER UPDATE ON frameforge_jobs
		FOR EACH ROW EXECUTE FUNCTION frameforge_jobs_notify()`,
}

// How often a watcher re-reads its job without being woken: on SQLite every
// change is made by this process, which wakes watchers itself, so this is
// only the queue position's pace; on PostgreSQL the notifications carry
// every change, so this is only a safety net.
const (
	pollAlone        = 500 * time.Millisecond
	pollWithListener = 5 * time.Second
)

// listen follows the jobs table's notifications until ctx ends, on a
// connection of its own (a pooled one cannot wait for notifications),
// reconnecting after a failure. github.com/jackc/pgxlisten does the
// connection handling.
func (s *Service) listen(ctx context.Context, pool *pgxpool.Pool) {
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			return pgx.ConnectConfig(ctx, pool.Config().ConnConfig.Copy())
		},
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				s.log.WarnContext(ctx, "job notifications: listening failed; reconnecting (event streams fall back to reading every 5 s meanwhile)", "err", err)
			}
		},
		ReconnectDelay: time.Second,
	}
	l.Handle(notifyChannel, notifyHandler{s})
	_ = l.Listen(ctx)
}

type notifyHandler struct{ s *Service }

// HandleNotification passes one change on to this replica's watchers and
// running worker.
func (h notifyHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	id, status, ok := strings.Cut(n.Payload, ":")
	if !ok {
		return fmt.Errorf("malformed payload %q", n.Payload)
	}
	h.s.changed(id, Status(status))
	return nil
}

// HandleBacklog runs each time listening (re)starts: whatever changed while
// no one listened, every watcher reads its job again.
func (h notifyHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	h.s.cancel.wakeAll()
	return nil
}

// changed is told of a change to job id, now in status st, made by any
// replica: watchers of the job wake, watchers of queued jobs wake when a job
// left the queue (their position moved), and a job cancelled elsewhere that
// runs here stops now.
func (s *Service) changed(id string, st Status) {
	if st == StatusCancelled {
		s.cancel.fire(id)
	} else {
		s.cancel.notify(id)
	}
	if st != StatusQueued && st != StatusAccepting {
		s.cancel.queueMoved()
	}
}
