import CRMPluginKit
import Foundation
import LoyaltyContract

/// Qualification windows (tiers.proto) in the program's time zone, as
/// [start, end) in UTC microseconds, and the qualifying value of one: a
/// range of the account's orders on loyalty_orders_account.
enum TierWindows {
    struct Window: Equatable {
        var start: Int64
        var end: Int64
    }

    /// The window an order placed at `t` counts in and upgrades on: the
    /// calendar year holding t, or the rolling window ending at t (after
    /// t − length, up to and including t).
    static func window(_ ladder: TierLadder, zone: String, endingAt t: Int64) -> Window {
        if ladder.window == .calendarYear {
            let cal = EarnRules.calendar(zone)
            // The whole second holding t (t is after 1970): the same year as t.
            guard let year = cal.dateInterval(of: .year, for: Date(timeIntervalSince1970: Double(t / 1_000_000))),
                  let start = EarnRules.micros(year.start), let end = EarnRules.micros(year.end) else { return Window(start: t, end: t &+ 1) }
            return Window(start: start, end: end)
        }
        // t is a time of this century (an order's, a review's): ±1 stays in range.
        return Window(start: shift(t, ladder, by: -1, zone: zone) &+ 1, end: t &+ 1)
    }

    /// The window a review at `r` decides on: the calendar year holding the
    /// instant before r (the year just ended, for a review at a year's end),
    /// or the rolling window ending at r.
    static func reviewed(_ ladder: TierLadder, zone: String, at r: Int64) -> Window {
        window(ladder, zone: zone, endingAt: ladder.window == .calendarYear ? r &- 1 : r)
    }

    /// Until when a tier reached on `w` holds: the end of the window after it.
    static func holdUntil(_ ladder: TierLadder, zone: String, after w: Window) -> Int64 {
        ladder.window == .calendarYear ? shift(w.end, ladder, by: 1, zone: zone) : shift(w.end &- 1, ladder, by: 1, zone: zone)
    }

    /// `us` moved by `count` windows' lengths (a year for CALENDAR_YEAR),
    /// local calendar arithmetic on whole seconds, the microseconds kept.
    static func shift(_ us: Int64, _ ladder: TierLadder, by count: Int, zone: String) -> Int64 {
        let (component, length): (Calendar.Component, Int) = switch ladder.window {
        case .rollingMonths: (.month, Int(ladder.windowLength))
        case .rollingDays: (.day, Int(ladder.windowLength))
        default: (.year, 1)
        }
        let seconds = us / 1_000_000
        let fraction = us - seconds * 1_000_000
        let base = Date(timeIntervalSince1970: Double(seconds))
        guard let moved = EarnRules.calendar(zone).date(byAdding: component, value: length * count, to: base),
              let micros = EarnRules.micros(moved) else { return us }
        return micros &+ fraction  // a time of this century, ± 3 years
    }

    /// The account's qualifying value in `w` under the program (tiers.proto,
    /// "Qualifying value"). Each order's part is at most 10^15; SQLite
    /// refuses a sum past int64 (an error, never a wrap).
    static func value(_ db: Database, _ ladder: TierLadder, account: Int64, program: Int64, _ w: Window) throws -> Int64 {
        let part = ladder.basis == .spend ? "total - refunded_amount" : "points_earned - points_clawed_back"
        // The orders of every points account of the account's person: a merge
        // leaves the merged person's account (and its orders) beside the survivor's.
        let sum = try db.query("""
            SELECT COALESCE(sum(\(part)), 0) FROM loyalty_orders
            WHERE account_id IN (SELECT ?1 UNION SELECT o.id FROM loyalty_accounts a JOIN loyalty_accounts o
                                 ON o.person_id = a.person_id AND o.kind = 1 WHERE a.id = ?1 AND a.person_id IS NOT NULL)
              AND placed_us >= ?2 AND placed_us < ?3 AND program_id = ?4
            """, [.integer(account), .integer(w.start), .integer(w.end), .integer(program)]).first?.int(0) ?? 0
        return max(sum, 0)
    }
}
