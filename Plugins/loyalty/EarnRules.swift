import CRMPluginKit
import Foundation
import LoyaltyContract

/// What an order earns under a program (programs.proto, Program), as a
/// pure function of the order's lines, so a refund can compute what the
/// lines left earn under the same rules and take back the difference.
/// Arithmetic saturates at Check.maxAmount: request values are bounded,
/// but products of them need not fit.
enum EarnRules {
    struct Line {
        var itemID: String
        var category: String
        var spend: Int64      // quantity × unit price − discount, for the units counted
        var units: Int64
    }

    /// Whatever the order's context fixes when it is posted.
    struct Context {
        var minuteOfWeek: (isoDay: Int32, minute: Int32)
        var firstOrder: Bool
        var birthday = false
        var allowance: Int64  // what the caps leave for this order
        var tierPercent: Int64 = 100  // the account's tier's earn multiplier (tiers.proto), 100 to 1000
    }

    static func points(_ program: Program, _ lines: [Line], _ context: Context) -> Int64 {
        let counted = lines.filter { $0.units > 0 }
        guard !counted.isEmpty else { return 0 }
        var spend: Int64 = 0
        var items: Int64 = 0
        for line in counted {
            let rule = program.itemRules.first { !$0.itemID.isEmpty && $0.itemID == line.itemID }
                ?? program.itemRules.first { !$0.category.isEmpty && $0.category == line.category }
            if rule?.excludeFromSpend != true { spend = add(spend, line.spend) }
            if let rule { items = add(items, multiply(rule.pointsPerUnit, line.units)) }
        }
        let step = max(program.spendStep, 1)
        var total = add(add(multiply(spend / step, program.pointsPerStep), program.pointsPerVisit), items)
        let percent = program.bonusWindows.filter { window in
            window.days.contains(context.minuteOfWeek.isoDay)
                && context.minuteOfWeek.minute >= window.startMinute && context.minuteOfWeek.minute < window.endMinute
        }.map { Int64($0.multiplierPercent) }.max() ?? 100
        total = multiply(total, percent) / 100
        if context.tierPercent != 100 { total = multiply(total, context.tierPercent) / 100 }
        if context.firstOrder { total = add(total, program.firstOrderBonus) }
        if context.birthday { total = add(total, program.birthdayBonus) }
        return min(total, max(context.allowance, 0))
    }

    static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow || sum > Check.maxAmount ? Check.maxAmount : sum
    }

    static func multiply(_ a: Int64, _ b: Int64) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow || product > Check.maxAmount ? Check.maxAmount : product
    }

    /// `whole` × part / of, rounded down, without overflow (part ≤ of).
    static func share(_ whole: Int64, part: Int64, of: Int64) -> Int64 {
        guard of > 0, part < of else { return part >= of ? whole : 0 }
        let product = whole.multipliedFullWidth(by: part)
        return of.dividingFullWidth(product).quotient
    }

    // ---- Local time, in the program's zone ----

    static func calendar(_ zone: String) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone) ?? TimeZone(identifier: "UTC") ?? calendar.timeZone
        return calendar
    }

    static func date(_ us: Int64) -> Date { Date(timeIntervalSince1970: Double(us) / 1_000_000) }

    static func micros(_ date: Date) -> Int64? {
        Int64(exactly: (date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    static func minuteOfWeek(_ us: Int64, zone: String) -> (isoDay: Int32, minute: Int32) {
        let parts = calendar(zone).dateComponents([.weekday, .hour, .minute], from: date(us))
        let weekday = parts.weekday ?? 1  // 1 is Sunday
        return (Int32((weekday + 5) % 7 + 1), Int32((parts.hour ?? 0) * 60 + (parts.minute ?? 0)))
    }

    /// [start, end) of the local day holding `us`.
    static func day(_ us: Int64, zone: String) -> (start: Int64, end: Int64) {
        let cal = calendar(zone)
        let start = cal.startOfDay(for: date(us))
        let end = cal.date(byAdding: .day, value: 1, to: start) ?? start.addingTimeInterval(86_400)
        return (micros(start) ?? us, micros(end) ?? us)
    }

    /// The birthday window holding `us`, if any: [the local start of the
    /// birthday, days + 1 local days later), this year's or last year's
    /// (a window that runs into January). `birth` is YYYY-MM-DD.
    static func birthdayWindow(_ birth: String, holding us: Int64, zone: String, days: Int32) -> (start: Int64, end: Int64)? {
        let parts = birth.split(separator: "-").map { Int($0) }
        guard parts.count == 3, let month = parts[1], let day = parts[2], (1...12).contains(month), (1...31).contains(day) else { return nil }
        let cal = calendar(zone)
        let year = cal.component(.year, from: date(us))
        for y in [year - 1, year] {
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
            let d = month == 2 && day == 29 && !leap ? 28 : day
            guard let start = cal.date(from: DateComponents(year: y, month: month, day: d)),
                  cal.component(.month, from: start) == month,
                  let end = cal.date(byAdding: .day, value: Int(days) + 1, to: start),
                  let s = micros(start), let e = micros(end), us >= s, us < e else { continue }
            return (s, e)
        }
        return nil
    }

    /// When a lot spendable from `available` expires under the program
    /// (PointLots.never: not); never before it is spendable.
    static func expiry(_ program: Program, from available: Int64) -> Int64 {
        let base = available.addingReportingOverflow(program.expirySeconds.multipliedReportingOverflow(by: 1_000_000).partialValue).partialValue
        switch program.expiryRounding {
        case .endOfMonth, .endOfYear:
            let cal = calendar(program.timeZone)
            let unit: Calendar.Component = program.expiryRounding == .endOfMonth ? .month : .year
            guard let start = cal.dateInterval(of: unit, for: date(base))?.end, let us = micros(start) else { return PointLots.never }
            return us
        default:
            return program.expirySeconds == 0 ? PointLots.never : base
        }
    }
}
