import Dispatch
import Foundation
import Synchronization

/// Bounds the bcrypt checks crm-web runs at once, and those waiting for one.
///
/// A check takes about a quarter of a second of one core. Unbounded, a flood
/// of sign-in posts would keep every core of the host busy, starving crmd
/// beside it, and queue without limit. With the gate at most `concurrency`
/// checks run and at most `maxWaiting` wait; any other attempt is refused
/// at once (the console answers 503 with Retry-After) without a check.
public final class PasswordCheckGate: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
        var peakRunning = 0
    }

    public let concurrency: Int
    public let maxWaiting: Int
    private let state = Mutex(State())
    private enum Admission { case now, later, refused }

    /// Half the cores (at least one), 32 waiting: sign-ins stay quick for
    /// people while crmd keeps the other half.
    public static func forThisMachine() -> PasswordCheckGate {
        PasswordCheckGate(concurrency: max(1, ProcessInfo.processInfo.activeProcessorCount / 2), maxWaiting: 32)
    }

    public init(concurrency: Int, maxWaiting: Int) {
        self.concurrency = max(1, concurrency)
        self.maxWaiting = max(0, maxWaiting)
    }

    /// The most checks that ever ran at once (for tests and diagnostics).
    public var peakRunning: Int { state.withLock { $0.peakRunning } }

    /// Runs `check` off the server's threads once a slot is free; nil,
    /// without running it, when the waiting line is full.
    public func run<T: Sendable>(_ check: @escaping @Sendable () -> T) async -> T? {
        let admitted = await withCheckedContinuation { (admission: CheckedContinuation<Bool, Never>) in
            let decision = state.withLock { s -> Admission in
                if s.running < concurrency {
                    s.running += 1
                    s.peakRunning = max(s.peakRunning, s.running)
                    return .now
                }
                guard s.waiting.count < maxWaiting else { return .refused }
                s.waiting.append(admission)
                return .later
            }
            switch decision {
            case .now: admission.resume(returning: true)
            case .later: break
            case .refused: admission.resume(returning: false)
            }
        }
        guard admitted else { return nil }
        let result = await withCheckedContinuation { (done: CheckedContinuation<T, Never>) in
            DispatchQueue.global().async { done.resume(returning: check()) }
        }
        // The slot passes to the longest waiter, or is freed.
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            guard !s.waiting.isEmpty else {
                s.running -= 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume(returning: true)
        return result
    }
}
