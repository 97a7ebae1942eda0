import B2BContract
import CRMPluginKit

typealias Terms = Crm_B2b_V1_ContractTerms
typealias Envelope = Crm_B2b_V1_Envelope
typealias Contract = Crm_B2b_V1_Contract

/// A contract's terms: their checks, the renewal's uplifted amount, and
/// their audit text. Shared by the envelope (terms to be signed) and the
/// contract (terms signed, then amended).
enum ContractTermsCheck {
    /// 9999-12-31T23:59:59Z in microseconds: later ends are typing mistakes.
    static let maxTimeMicros: Int64 = 253_402_300_799_999_999
    static let maxNoticeDays: Int32 = 3650
    static let maxUpliftBp: Int32 = 100_000

    /// INVALID_ARGUMENT naming the field (under `prefix`) for a bad term.
    static func validate(_ t: Terms, prefix: String) throws {
        guard t.startUnixUs > 0 else { throw PluginError.invalidArgument("\(prefix)start_unix_us is required (UTC microseconds)") }
        guard t.endUnixUs > t.startUnixUs else {
            throw PluginError.invalidArgument("\(prefix)end_unix_us \(t.endUnixUs) must be after start_unix_us \(t.startUnixUs)")
        }
        guard t.endUnixUs <= maxTimeMicros else {
            throw PluginError.invalidArgument("\(prefix)end_unix_us \(t.endUnixUs) is after the year 9999")
        }
        guard t.billingPeriod != .unspecified, Crm_B2b_V1_BillingPeriod.allCases.contains(t.billingPeriod) else {
            throw PluginError.invalidArgument("\(prefix)billing_period is required: MONTHLY, QUARTERLY, ANNUAL or ONE_TIME")
        }
        guard (0...maxNoticeDays).contains(t.noticeDays) else {
            throw PluginError.invalidArgument("\(prefix)notice_days is \(t.noticeDays); it must be 0 to \(maxNoticeDays)")
        }
        guard (0...maxUpliftBp).contains(t.upliftBp) else {
            throw PluginError.invalidArgument("\(prefix)uplift_bp is \(t.upliftBp); it must be 0 to \(maxUpliftBp) (100 bp = 1 %)")
        }
    }

    /// value × (10000 + uplift) / 10000, rounded half up to a minor unit, in
    /// 128-bit integers; OUT_OF_RANGE above 10^15 (so the renewal job, which
    /// uses it later, never meets a value sales would refuse).
    static func uplifted(_ value: Int64, bp: Int32) throws -> Int64 {
        let numerator = Int128(value) * Int128(10_000 + Int64(bp))
        let result = (numerator + 5_000) / 10_000
        guard value >= 0, result <= Int128(Check.maxAmountMinor) else {
            throw PluginError(.outOfRange, "the renewal amount, \(value) minor units with an uplift of "
                + "\(Format.percent(Int64(bp))), is above \(Check.maxAmountMinor)")
        }
        return Int64(result)  // within 0...10^15: checked just above
    }

    static func periodName(_ p: Crm_B2b_V1_BillingPeriod) -> String {
        switch p {
        case .monthly: return "monthly"
        case .quarterly: return "quarterly"
        case .annual: return "annual"
        case .oneTime: return "one time"
        default: return ""
        }
    }

    /// Audit values of terms, under the .proto field names.
    static func fields(_ t: Terms, prefix: String = "terms.") -> [String: String] {
        [
            prefix + "start_unix_us": String(t.startUnixUs), prefix + "end_unix_us": String(t.endUnixUs),
            prefix + "billing_period": periodName(t.billingPeriod), prefix + "auto_renew": t.autoRenew ? "true" : "false",
            prefix + "notice_days": String(t.noticeDays), prefix + "uplift_bp": String(t.upliftBp),
            prefix + "value": t.hasValue ? "\(Format.money(t.value.amountMinor, t.value.currency)) \(t.value.currency)" : "",
        ]
    }
}
