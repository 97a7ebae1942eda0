import Synchronization

/// Whether the server as a whole is serving; flips to not serving when a
/// graceful shutdown begins.
final class HealthState: Sendable {
    private let serving = Atomic<Bool>(true)

    var isServing: Bool { serving.load(ordering: .relaxed) }

    func stopServing() { serving.store(false, ordering: .relaxed) }
}
