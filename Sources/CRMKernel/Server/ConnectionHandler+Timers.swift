import NIOCore

/// Read and idle timeouts. One timer per connection, re-armed for whichever
/// limit comes first, so a quiet connection costs one scheduled task.
extension ConnectionHandler {
    func armTimer() {
        timer?.cancel()
        guard !closed else { return }
        let readLimit = TimeAmount.milliseconds(limits.readTimeoutMillis)
        let idleLimit = TimeAmount.milliseconds(limits.idleTimeoutMillis)
        // With calls in flight the connection is not idle: look again one
        // idle period from now rather than at a moment already past.
        var due = (inFlight.isEmpty ? max(lastReadNanos, lastAnswerNanos) : NIODeadline.now()) + idleLimit
        if let partialSince { due = min(due, partialSince + readLimit) }
        timer = context.eventLoop.scheduleTask(deadline: due) { [self] in timerFired() }
    }

    private func timerFired() {
        guard !closed else { return }
        let now = NIODeadline.now()
        if let partialSince, now >= partialSince + .milliseconds(limits.readTimeoutMillis) {
            logger.info("read timeout; closing connection")
            sendGoAway(.unavailable, prefaceDone ? "read timeout: incomplete frame" : "read timeout: no preface")
            closeNow()
            return
        }
        if inFlight.isEmpty, now >= max(lastReadNanos, lastAnswerNanos) + .milliseconds(limits.idleTimeoutMillis) {
            logger.debug("idle timeout; closing connection")
            sendGoAway(.unavailable, "idle timeout")
            closeNow()
            return
        }
        armTimer()
    }
}
