import Synchronization

/// Whether the server as a whole is serving; flips to not serving when a
/// graceful shutdown begins. Also keeps the serialized whole-server
/// Health.Check answers, the most frequent call, ready to send.
final class HealthState: @unchecked Sendable {
    private let serving = Atomic<Bool>(true)
    private var servingAnswer: [UInt8] = []
    private var notServingAnswer: [UInt8] = []

    var isServing: Bool { serving.load(ordering: .relaxed) }

    func stopServing() { serving.store(false, ordering: .relaxed) }

    /// Called once, when the routes are final and before the server starts.
    func prepareAnswers(_ make: (Bool) -> [UInt8]) {
        servingAnswer = make(true)
        notServingAnswer = make(false)
    }

    var wholeServerAnswer: [UInt8] { isServing ? servingAnswer : notServingAnswer }
}
