import Foundation

/// Runs `work` every `interval` on a thread of its own until stopped. It
/// waits on a condition rather than sleeping, so `stop()` wakes it at once.
final class PeriodicWorker: @unchecked Sendable {
    private let interval: TimeInterval
    private let runOnStop: Bool
    private let work: @Sendable () -> Void
    private let lock = NSCondition()
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// Starts a thread called `name`. With `runOnStop`, `stop()` wakes it
    /// for one last run of `work` (a final checkpoint, say).
    static func start(name: String, every interval: TimeInterval, runOnStop: Bool,
                      _ work: @escaping @Sendable () -> Void) -> PeriodicWorker {
        let worker = PeriodicWorker(interval: interval, runOnStop: runOnStop, work: work)
        let thread = Thread { [worker] in worker.loop() }
        thread.name = name
        thread.start()
        return worker
    }

    private init(interval: TimeInterval, runOnStop: Bool, work: @escaping @Sendable () -> Void) {
        self.interval = interval
        self.runOnStop = runOnStop
        self.work = work
    }

    private func loop() {
        defer { finished.signal() }
        while true {
            lock.lock()
            if !stopped { _ = lock.wait(until: Date().addingTimeInterval(interval)) }
            let stop = stopped
            lock.unlock()
            if stop && !runOnStop { return }
            work()
            if stop { return }
        }
    }

    /// Wakes the thread and waits until it has ended (after its last run, if it has one).
    func stop() {
        lock.lock()
        stopped = true
        lock.signal()
        lock.unlock()
        finished.wait()
    }
}
