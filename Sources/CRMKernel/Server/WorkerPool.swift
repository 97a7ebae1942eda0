import Foundation
import NIOCore

/// The threads that run plugin handlers.
///
/// As many handlers run at once as there are cores: more would only take
/// turns on them, and every extra thread woken costs a context switch
/// (measured on two cores: GetPerson at 64 in flight went from 31,600
/// calls/s with 16 threads awake to 52,200 with 2). A handler that has run
/// longer than `stallMicros` (one that sleeps, waits on a slow stream
/// client or on another call) stops counting against that number, and a
/// watcher wakes another thread for the calls queued behind it, up to
/// `maxThreads`. So a blocked handler never holds the others up.
final class WorkerPool: @unchecked Sendable {
    typealias Work = () -> Void

    private let maxThreads: Int
    private let targetRunning: Int
    private let stallMicros: UInt64
    private let state = NSCondition()
    private var queue = CircularBuffer<Work>(initialCapacity: 256)
    /// When each thread's current work started (0: idle), by thread index.
    private var startedAt: [UInt64] = []
    private var idleThreads = 0
    /// Threads woken or started that have not yet taken work: a burst of
    /// calls must not wake every idle thread before the first one runs.
    private var starting = 0
    private var stopping = false
    /// The watcher runs only while calls wait with every running thread fresh.
    private let watcher = NSCondition()
    private var watching = false

    init(maxThreads: Int, targetRunning: Int = ProcessInfo.processInfo.activeProcessorCount, stallMicros: UInt64 = 2_000) {
        self.maxThreads = max(1, maxThreads)
        self.targetRunning = max(1, min(targetRunning, self.maxThreads))
        self.stallMicros = stallMicros
        let thread = Thread { [self] in watch() }
        thread.name = "crm-worker-watch"
        thread.start()
    }

    func submit(_ work: @escaping Work) {
        state.lock()
        queue.append(work)
        let woke = wakeIfUnderTarget(now: Clock.monotonicMicros())
        state.unlock()
        if !woke { armWatcher() }
    }

    /// Lets the threads finish what is queued, then end.
    func stop() {
        state.lock()
        stopping = true
        state.broadcast()
        state.unlock()
        watcher.lock()
        watcher.signal()
        watcher.unlock()
    }

    /// With `state` held: wakes or starts threads for the queued work while
    /// fewer than the target run fresh work. True if every queued item has
    /// a thread on its way; false leaves the rest to the watcher.
    private func wakeIfUnderTarget(now: UInt64) -> Bool {
        var fresh = 0
        for started in startedAt where started != 0 && now - started < stallMicros { fresh += 1 }
        while fresh + starting < targetRunning && starting < queue.count {
            if idleThreads > starting {
                state.signal()
            } else if startedAt.count < maxThreads {
                startThread()
            } else {
                break
            }
            starting += 1
        }
        return starting >= queue.count
    }

    private func startThread() {
        let index = startedAt.count
        startedAt.append(0)
        let thread = Thread { [self] in run(index) }
        thread.name = "crm-worker-\(index)"
        thread.start()
    }

    private func run(_ index: Int) {
        state.lock()
        if starting > 0 { starting -= 1 }  // started for the queue: now it is here
        while true {
            if queue.isEmpty && !stopping {
                idleThreads += 1
                state.wait()
                idleThreads -= 1
                // Woken for work (or spuriously): either way no longer on its way.
                if starting > 0 { starting -= 1 }
                continue
            }
            guard let work = queue.popFirst() else { break }  // stopping, and nothing left
            startedAt[index] = Clock.monotonicMicros()
            state.unlock()
            work()
            state.lock()
            startedAt[index] = 0
        }
        state.unlock()
    }

    private func armWatcher() {
        watcher.lock()
        if !watching {
            watching = true
            watcher.signal()
        }
        watcher.unlock()
    }

    /// While calls wait, checks every half stall period whether a running
    /// handler has stalled, and if so brings in another thread.
    private func watch() {
        while true {
            watcher.lock()
            while !watching && !stopping { watcher.wait() }
            let stop = stopping
            watcher.unlock()
            if stop { return }
            usleep(UInt32(stallMicros / 2))
            state.lock()
            let waiting = !queue.isEmpty
            if waiting { _ = wakeIfUnderTarget(now: Clock.monotonicMicros()) }
            state.unlock()
            if !waiting {
                watcher.lock()
                watching = false
                watcher.unlock()
            }
        }
    }
}
