import CRMPluginKit
import ServiceContract
import Synchronization

/// The SLA clocks of tickets. Every ticket write (TicketStore) hands the
/// ticket before and after to `track`, which turns what changed into SLA
/// history entries (an agent's public reply stops the response clocks, a
/// customer reply starts the next-response clock, PENDING and ON_HOLD
/// pause every clock and leaving them resumes, SOLVED and CLOSED stop
/// them, a reopen resumes resolution), appends those that change the
/// replayed state, and recomputes the ticket's clock rows and due time from
/// the whole history with its policy's targets on its calendar. So due
/// times are a function of (history, policy, calendar): `recomputeUnsolved`
/// reruns it after a policy or calendar change.
///
/// Clock rows (service_sla_clocks) are derived, except `warned` and
/// `breach_fired`, which record that the timer job published the events,
/// so each is published once per cycle whatever is recomputed later.
enum SlaEngine {
    /// The warning lead time (ServiceConfig), read once when the plugin starts.
    static let leadMicros = Atomic<Int64>(ServiceConfig.defaultSlaWarningLeadSeconds * 1_000_000)

    /// Per-call cache of policies and calendars.
    final class Context {
        let db: Database
        let leadMicros: Int64
        private var policies: [SlaPolicy]?
        private var calendars: [Int64: BusinessCalendar?] = [:]

        init(_ db: Database, leadMicros: Int64) {
            self.db = db
            self.leadMicros = leadMicros
        }

        func policy(for t: Ticket) throws -> SlaPolicy? {
            if policies == nil { policies = try SlaPolicies.all(db) }
            return policies!.first { SlaPolicies.matches($0, t) }
        }

        func calendar(_ id: Int64) throws -> BusinessCalendar? {
            if let cached = calendars[id] { return cached }
            let c = try SlaCalendars.load(db, id).flatMap(BusinessCalendar.init)
            calendars[id] = c
            return c
        }
    }

    /// One computed cycle, as stored and as GetTicketSla shows it.
    struct Row: Equatable {
        var kind: SlaClockKind
        var cycle: Int32
        var state: Crm_Service_V1_SlaClockState
        var started: Int64
        var stopped: Int64
        var targetMinutes: Int32
        var due: Int64
        var warnAt: Int64
        var business: Int64
        var warned: Bool
        var breachFired: Bool
        var breached: Bool
        var nextFire: Int64
        var outcome: Int64
        var team: String
        var agent: String
        var policyID: Int64
    }

    // MARK: history

    static func history(_ db: Database, _ ticketID: Int64) throws -> [SlaReplay.Entry] {
        try db.query("SELECT kind, clock, policy_id, at_us FROM service_sla_history WHERE ticket_id = ? ORDER BY id",
                     [.integer(ticketID)]).map {
            SlaReplay.Entry(kind: SlaHistoryKind(rawValue: Int(truncatingIfNeeded: $0.int(0))) ?? .unspecified,
                            clock: SlaClockKind(rawValue: Int(truncatingIfNeeded: $0.int(1))) ?? .unspecified,
                            policyID: $0.int(2), at: $0.int(3))
        }
    }

    private static func record(_ db: Database, _ ticketID: Int64, _ e: SlaReplay.Entry) throws {
        try db.execute("INSERT INTO service_sla_history (ticket_id, kind, clock, policy_id, at_us) VALUES (?, ?, ?, ?, ?)",
                       [.integer(ticketID), .integer(Int64(e.kind.rawValue)), .integer(Int64(e.clock.rawValue)),
                        .integer(e.policyID), .integer(e.at)])
    }

    static func paused(_ s: TicketStatus) -> Bool { s == .pending || s == .onHold }
    static func done(_ s: TicketStatus) -> Bool { s == .solved || s == .closed }

    /// The history entries a write from `old` to `new` makes, in the order
    /// they happened: an agent's reply first (it stops the response clocks
    /// before a status it sets), then the status, then a customer's reply
    /// (which starts the next-response clock after it reopened or resumed).
    static func changes(old: Ticket?, new t: Ticket, at now: Int64) -> [SlaReplay.Entry] {
        guard let o = old else {
            var entries = [SlaReplay.Entry(kind: .clockStarted, clock: .firstResponse, at: now),
                           SlaReplay.Entry(kind: .clockStarted, clock: .resolution, at: now)]
            if paused(t.status) { entries.append(.init(kind: .clocksPaused, at: now)) }
            return entries
        }
        var entries: [SlaReplay.Entry] = []
        if t.lastAgentReplyUnixUs != o.lastAgentReplyUnixUs && t.lastAgentReplyUnixUs != 0 {
            entries.append(.init(kind: .clockStopped, clock: .firstResponse, at: now))
            entries.append(.init(kind: .clockStopped, clock: .nextResponse, at: now))
        }
        if !done(o.status) && done(t.status) {
            for clock in [SlaClockKind.firstResponse, .nextResponse, .resolution] {
                entries.append(.init(kind: .clockStopped, clock: clock, at: now))
            }
        } else if done(o.status) && !done(t.status) {
            entries.append(.init(kind: .clocksResumed, at: now))
            entries.append(.init(kind: .resolutionReopened, at: now))
            if paused(t.status) { entries.append(.init(kind: .clocksPaused, at: now)) }
        } else if !done(t.status) {
            if !paused(o.status) && paused(t.status) { entries.append(.init(kind: .clocksPaused, at: now)) }
            if paused(o.status) && !paused(t.status) { entries.append(.init(kind: .clocksResumed, at: now)) }
        }
        if t.lastCustomerReplyUnixUs != o.lastCustomerReplyUnixUs && t.lastCustomerReplyUnixUs != 0 && !done(t.status) {
            entries.append(.init(kind: .clockStarted, clock: .nextResponse, at: now))
        }
        return entries
    }

    /// What a ticket written before the SLA part had: its clocks from what
    /// the ticket row recorded (history starts with its first write after).
    static func seed(_ t: Ticket) -> [SlaReplay.Entry] {
        var entries = changes(old: nil, new: Ticket(), at: t.createdUnixUs)
        if t.firstResponseUnixUs != 0 { entries.append(.init(kind: .clockStopped, clock: .firstResponse, at: t.firstResponseUnixUs)) }
        if done(t.status) {
            let at = max(t.solvedUnixUs, t.closedUnixUs, t.createdUnixUs)
            for clock in [SlaClockKind.firstResponse, .resolution] { entries.append(.init(kind: .clockStopped, clock: clock, at: at)) }
        } else if paused(t.status) {
            entries.append(.init(kind: .clocksPaused, at: max(t.statusChangedUnixUs, t.createdUnixUs)))
        }
        return entries
    }

    // MARK: tracking writes

    /// Called by TicketStore for every ticket write, after `new` has its id
    /// and before (or, for an insert, right after) its row is written: sets
    /// `new.slaDueUnixUs`.
    static func track(_ db: Database, old: Ticket?, new t: inout Ticket) throws {
        let now = t.updatedUnixUs != 0 ? t.updatedUnixUs : UTCClock.nowMicros()
        let context = Context(db, leadMicros: leadMicros.load(ordering: .relaxed))
        var stored = old == nil ? [] : try history(db, t.id)
        if let old, stored.isEmpty {
            stored = seed(old)
            for e in stored { try record(db, t.id, e) }
        }
        try refresh(context, &t, stored: stored, changes: changes(old: old, new: t, at: now), now: now)
    }

    /// Appends the entries that change the replayed state, matches the
    /// policy, recomputes and stores the clock rows, sets the ticket's due.
    static func refresh(_ context: Context, _ t: inout Ticket, stored: [SlaReplay.Entry], changes: [SlaReplay.Entry], now: Int64) throws {
        let db = context.db
        var replay = SlaReplay(stored)
        for e in changes where replay.apply(e) { try record(db, t.id, e) }
        let policy = try context.policy(for: t)
        let matched = SlaReplay.Entry(kind: .policyMatched, policyID: policy?.id ?? 0, at: now)
        if replay.apply(matched) { try record(db, t.id, matched) }
        let existing = try storedRows(db, t.id)
        let rows = try compute(context, t, replay, policy: policy, existing: existing, now: now)
        for row in rows where existing[key(row)] != row { try save(db, t.id, row) }
        t.slaDueUnixUs = rows.filter { $0.state == .running && $0.due > 0 }.map(\.due).min() ?? 0
    }

    static func key(_ r: Row) -> String { "\(r.kind.rawValue)-\(r.cycle)" }

    /// The rows of a replayed history, with the published flags of `existing`.
    static func compute(_ context: Context, _ t: Ticket, _ replay: SlaReplay, policy: SlaPolicy?,
                        existing: [String: Row], now: Int64) throws -> [Row] {
        let calendar = try policy.map { try context.calendar($0.calendarID) } ?? nil
        return replay.cycles.map { c in
            let target: Int32 = switch c.kind {
            case .firstResponse: policy?.firstResponseMinutes ?? 0
            case .nextResponse: policy?.nextResponseMinutes ?? 0
            case .resolution: policy?.resolutionMinutes ?? 0
            default: 0
            }
            func working(_ a: Int64, _ b: Int64) -> Int64 { calendar?.working(a, b) ?? max(0, b - a) }
            var due: Int64 = 0
            if target > 0, let calendar {
                var remaining = Int64(target) * 60_000_000
                for (a, b) in c.intervals {
                    guard let b else { due = calendar.add(a, remaining) ?? 0; break }
                    let w = calendar.working(a, b)
                    if w >= remaining { due = calendar.add(a, remaining) ?? 0; break }
                    remaining -= w
                }
            }
            let business = c.intervals.reduce(Int64(0)) { $0 + working($1.0, $1.1 ?? max(now, $1.0)) }
            let state: Crm_Service_V1_SlaClockState = !c.isOpen ? .stopped : (replay.paused ? .paused : .running)
            let old = existing["\(c.kind.rawValue)-\(c.number)"]
            let warned = old?.warned ?? false, fired = old?.breachFired ?? false
            let lead = context.leadMicros
            let warnAt = due > 0 && lead > 0 ? max(due - lead, c.started) : 0
            var nextFire: Int64 = 0
            if state == .running && due > 0 {
                if !warned && warnAt > 0 && warnAt < due { nextFire = warnAt } else if !fired { nextFire = due }
            }
            let breached = fired || (c.stopped > 0 && due > 0 && c.stopped > due)
            let keep = old?.state == .stopped
            return Row(kind: c.kind, cycle: c.number, state: state, started: c.started, stopped: c.stopped, targetMinutes: target,
                       due: due, warnAt: warnAt, business: business, warned: warned, breachFired: fired, breached: breached,
                       nextFire: nextFire, outcome: c.stopped > 0 ? c.stopped : (fired ? due : 0),
                       team: keep ? old!.team : t.team, agent: keep ? old!.agent : t.assignee, policyID: policy?.id ?? 0)
        }
    }

    static let rowColumns = """
        kind, cycle, state, started_us, stopped_us, target_minutes, due_us, warn_us, business_us, warned, breach_fired, \
        breached, next_fire_us, outcome_us, team, agent, policy_id
        """

    static func decodeRow(_ r: [SQLValue]) -> Row {
        Row(kind: SlaClockKind(rawValue: Int(truncatingIfNeeded: r.int(0))) ?? .unspecified, cycle: Int32(truncatingIfNeeded: r.int(1)),
            state: Crm_Service_V1_SlaClockState(rawValue: Int(truncatingIfNeeded: r.int(2))) ?? .unspecified,
            started: r.int(3), stopped: r.int(4), targetMinutes: Int32(truncatingIfNeeded: r.int(5)), due: r.int(6), warnAt: r.int(7),
            business: r.int(8), warned: r.int(9) != 0, breachFired: r.int(10) != 0, breached: r.int(11) != 0, nextFire: r.int(12),
            outcome: r.int(13), team: r.text(14), agent: r.text(15), policyID: r.int(16))
    }

    static func storedRows(_ db: Database, _ ticketID: Int64) throws -> [String: Row] {
        var rows: [String: Row] = [:]
        for r in try db.query("SELECT \(rowColumns) FROM service_sla_clocks WHERE ticket_id = ?", [.integer(ticketID)]) {
            let row = decodeRow(r)
            rows[key(row)] = row
        }
        return rows
    }

    static func save(_ db: Database, _ ticketID: Int64, _ r: Row) throws {
        try db.execute("""
            INSERT INTO service_sla_clocks (ticket_id, \(rowColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (ticket_id, kind, cycle) DO UPDATE SET state = excluded.state, started_us = excluded.started_us,
                stopped_us = excluded.stopped_us, target_minutes = excluded.target_minutes, due_us = excluded.due_us,
                warn_us = excluded.warn_us, business_us = excluded.business_us, warned = excluded.warned,
                breach_fired = excluded.breach_fired, breached = excluded.breached, next_fire_us = excluded.next_fire_us,
                outcome_us = excluded.outcome_us, team = excluded.team, agent = excluded.agent, policy_id = excluded.policy_id
            """, [.integer(ticketID), .integer(Int64(r.kind.rawValue)), .integer(Int64(r.cycle)), .integer(Int64(r.state.rawValue)),
                  .integer(r.started), .integer(r.stopped), .integer(Int64(r.targetMinutes)), .integer(r.due), .integer(r.warnAt),
                  .integer(r.business), .integer(r.warned ? 1 : 0), .integer(r.breachFired ? 1 : 0), .integer(r.breached ? 1 : 0),
                  .integer(r.nextFire), .integer(r.outcome), .text(r.team), .text(r.agent), .integer(r.policyID)])
    }

    // MARK: recompute

    /// After a policy or calendar change: every unsolved ticket's clocks
    /// and due time from its history, in this transaction, in id order by
    /// batches. Solved and closed tickets keep the outcomes they had.
    static func recomputeUnsolved(_ ctx: CallContext, _ db: Database, now: Int64) throws {
        let context = Context(db, leadMicros: leadMicros.load(ordering: .relaxed))
        var after: Int64 = 0
        while true {
            let batch = try db.query("SELECT \(TicketStore.columns) FROM service_tickets WHERE id > ? AND bucket = 1 ORDER BY id LIMIT 500",
                                     [.integer(after)]).map(TicketStore.decode)
            for var t in batch {
                let before = t.slaDueUnixUs
                var stored = try history(db, t.id)
                if stored.isEmpty {
                    stored = seed(t)
                    for e in stored { try record(db, t.id, e) }
                }
                try refresh(context, &t, stored: stored, changes: [], now: now)
                if t.slaDueUnixUs != before { try TicketStore(db: db).saveDue(t) }
            }
            guard let last = batch.last, batch.count == 500 else { return }
            after = last.id
        }
    }

    /// The clocks of a ticket now, computed from its history (read only).
    static func live(_ ctx: CallContext, _ db: Database, _ t: Ticket) throws -> (rows: [Row], policy: SlaPolicy?) {
        let context = Context(db, leadMicros: leadMicros.load(ordering: .relaxed))
        var stored = try history(db, t.id)
        if stored.isEmpty { stored = seed(t) }
        let replay = SlaReplay(stored)
        let policy = try context.policy(for: t)
        return (try compute(context, t, replay, policy: policy, existing: try storedRows(db, t.id), now: UTCClock.nowMicros()), policy)
    }
}
