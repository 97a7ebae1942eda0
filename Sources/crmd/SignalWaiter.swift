import Foundation

/// Blocks the main thread until one of the given signals arrives. The
/// signals are blocked for every thread and taken with sigwait, so no
/// async-signal-unsafe code ever runs in a handler.
struct SignalWaiter {
    private var set = sigset_t()

    init(_ signals: [Int32]) {
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        // Threads created after this (event loops, workers) inherit the mask.
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    func wait() -> Int32 {
        var set = self.set
        var received: Int32 = 0
        sigwait(&set, &received)
        return received
    }
}
