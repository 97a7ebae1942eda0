import ServiceContract

typealias SlaClockKind = Crm_Service_V1_SlaClockKind
typealias SlaHistoryKind = Crm_Service_V1_SlaHistoryKind

/// A ticket's SLA history replayed into clock cycles: pure, so the same
/// history always gives the same cycles. Each cycle keeps the wall-time
/// intervals in which it ran (a pause closes them, a resume opens one);
/// SlaEngine turns intervals into due times with the policy's targets and
/// the calendar's working time.
struct SlaReplay {
    struct Cycle {
        var kind: SlaClockKind
        var number: Int32
        var started: Int64
        var stopped: Int64 = 0
        /// [start, end) while running; the last may be open (end nil).
        var intervals: [(Int64, Int64?)] = []
        var isOpen: Bool { stopped == 0 }
    }

    struct Entry {
        var kind: SlaHistoryKind
        var clock: SlaClockKind = .unspecified
        var policyID: Int64 = 0
        var at: Int64
    }

    var cycles: [Cycle] = []
    var paused = false
    var policyID: Int64 = 0

    init(_ history: [Entry] = []) {
        for entry in history { _ = apply(entry) }
    }

    func open(_ kind: SlaClockKind) -> Int? {
        cycles.lastIndex { $0.kind == kind && $0.isOpen }
    }

    /// Applies one history entry; false when it would change nothing (then
    /// it is not recorded).
    mutating func apply(_ e: Entry) -> Bool {
        switch e.kind {
        case .clockStarted:
            guard open(e.clock) == nil else { return false }
            // The next-response clock starts on a customer reply only after
            // the first response: before it, the customer is still waiting
            // for the first answer.
            if e.clock == .nextResponse {
                guard let first = cycles.last(where: { $0.kind == .firstResponse }), !first.isOpen else { return false }
            }
            let number = Int32(cycles.filter { $0.kind == e.clock }.count + 1)
            cycles.append(Cycle(kind: e.clock, number: number, started: e.at, intervals: paused ? [] : [(e.at, nil)]))
            return true
        case .clockStopped:
            guard let i = open(e.clock) else { return false }
            close(i, e.at)
            cycles[i].stopped = e.at
            return true
        case .clocksPaused:
            guard !paused else { return false }
            paused = true
            for i in cycles.indices where cycles[i].isOpen { close(i, e.at) }
            return true
        case .clocksResumed:
            guard paused else { return false }
            paused = false
            for i in cycles.indices where cycles[i].isOpen { cycles[i].intervals.append((e.at, nil)) }
            return true
        case .resolutionReopened:
            guard open(.resolution) == nil, let i = cycles.lastIndex(where: { $0.kind == .resolution }) else { return false }
            cycles[i].stopped = 0
            if !paused { cycles[i].intervals.append((e.at, nil)) }
            return true
        case .policyMatched:
            guard policyID != e.policyID else { return false }
            policyID = e.policyID
            return true
        default:
            return false
        }
    }

    private mutating func close(_ i: Int, _ at: Int64) {
        guard let last = cycles[i].intervals.last, last.1 == nil else { return }
        cycles[i].intervals[cycles[i].intervals.count - 1] = (last.0, max(at, last.0))
    }
}
