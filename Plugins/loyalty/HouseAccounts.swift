import CRMPluginKit
import Foundation
import LoyaltyContract

typealias HouseMember = Crm_Loyalty_V1_HouseMember

/// House accounts: the tables beside the ledger (members, and the till's
/// details of charges and pay-ins, keyed by their posting), the checks the
/// house-account methods share, and each member's spending this month.
enum HouseAccounts {
    static let service = "/crm.loyalty.v1.HouseAccounts/"

    /// Migration 3. Entries get their posting's kind and, on house
    /// accounts, running totals beside balance_after (the account's entry
    /// count, and what was debited, charged and paid in up to and including
    /// the entry), so a statement of any period is a few index seeks
    /// whatever the account's history: the totals of a period are the
    /// differences of the running totals at its edges. The account index
    /// orders entries by time (posting times never go back, so that is the
    /// ledger's order). The immutability trigger is dropped only for the
    /// backfill.
    static let schema = """
    ALTER TABLE loyalty_entries ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE loyalty_entries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE loyalty_entries ADD COLUMN debited_after INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE loyalty_entries ADD COLUMN charged_after INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE loyalty_entries ADD COLUMN paid_after INTEGER NOT NULL DEFAULT 0;
    DROP TRIGGER loyalty_entries_immutable;
    UPDATE loyalty_entries SET kind = COALESCE((SELECT p.kind FROM loyalty_postings p WHERE p.id = loyalty_entries.posting_id), 0);
    -- No charge or pay-in exists yet: house accounts' entries get their
    -- count and debits only.
    UPDATE loyalty_entries SET seq = w.seq, debited_after = w.debited FROM (
        SELECT e.id, row_number() OVER running AS seq,
               sum(CASE WHEN e.amount < 0 THEN -e.amount WHEN e.kind = 4 THEN -e.amount ELSE 0 END) OVER running AS debited
        FROM loyalty_entries e JOIN loyalty_accounts a ON a.id = e.account_id WHERE a.kind = 3
        WINDOW running AS (PARTITION BY e.account_id ORDER BY e.created_us, e.id)) AS w
    WHERE loyalty_entries.id = w.id;
    CREATE TRIGGER loyalty_entries_immutable BEFORE UPDATE ON loyalty_entries
    BEGIN SELECT RAISE(ABORT, 'loyalty: ledger entries are immutable'); END;
    DROP INDEX loyalty_entries_account;
    CREATE INDEX loyalty_entries_account ON loyalty_entries (account_id, created_us);

    CREATE TABLE loyalty_house_members (
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        person_id INTEGER NOT NULL,
        monthly_limit INTEGER NOT NULL DEFAULT 0 CHECK (monthly_limit >= 0),
        active INTEGER NOT NULL DEFAULT 1,
        created_us INTEGER NOT NULL,
        updated_us INTEGER NOT NULL,
        PRIMARY KEY (account_id, person_id)
    );
    CREATE INDEX loyalty_house_members_person ON loyalty_house_members (person_id);

    -- person_id NULL: the member was erased; the amount stays on the ledger.
    CREATE TABLE loyalty_house_charges (
        posting_id INTEGER PRIMARY KEY REFERENCES loyalty_postings (id),
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        person_id INTEGER,
        amount INTEGER NOT NULL CHECK (amount > 0),
        order_ref TEXT NOT NULL DEFAULT '',
        created_us INTEGER NOT NULL
    );
    CREATE INDEX loyalty_house_charges_member ON loyalty_house_charges (account_id, person_id, created_us);
    CREATE INDEX loyalty_house_charges_person ON loyalty_house_charges (person_id) WHERE person_id IS NOT NULL;

    CREATE TABLE loyalty_house_payments (
        posting_id INTEGER PRIMARY KEY REFERENCES loyalty_postings (id),
        account_id INTEGER NOT NULL REFERENCES loyalty_accounts (id),
        tender TEXT NOT NULL DEFAULT '',
        reference TEXT NOT NULL DEFAULT '',
        created_us INTEGER NOT NULL
    );
    """

    /// A house account the caller may read (NOT_FOUND) or, with `write`,
    /// change (PERMISSION_DENIED); FAILED_PRECONDITION for another kind.
    static func require(_ ctx: CallContext, _ db: Database, _ id: Int64, write: Bool) throws -> Account {
        let account = try Ledger.customerAccount(ctx, db, id, write: write)
        guard account.kind == .houseAccount else {
            throw PluginError.failedPrecondition("account \(id) is not a house account")
        }
        return account
    }

    static let memberColumns = "account_id, person_id, monthly_limit, active, created_us, updated_us"

    static func member(_ row: [SQLValue]) -> HouseMember {
        var m = HouseMember()
        m.accountID = row.int(0)
        m.personID = row.int(1)
        m.monthlyLimit = row.int(2)
        m.active = row.int(3) != 0
        m.createdUnixUs = row.int(4)
        m.updatedUnixUs = row.int(5)
        return m
    }

    /// The member row with what they spent this month, or nil.
    static func loadMember(_ db: Database, account: Int64, person: Int64, now: Int64 = UTCClock.nowMicros()) throws -> HouseMember? {
        guard let row = try db.query("SELECT \(memberColumns) FROM loyalty_house_members WHERE account_id = ? AND person_id = ?",
                                     [.integer(account), .integer(person)]).first else { return nil }
        var m = member(row)
        m.spentThisMonth = try spent(db, account: account, person: person, since: monthStart(now))
        return m
    }

    /// Charges by `person` on `account` since `since`, less the reversed
    /// ones (a reversal posting references its charge, once) and what
    /// refunds of orders gave back of them.
    static func spent(_ db: Database, account: Int64, person: Int64, since: Int64) throws -> Int64 {
        try db.query("""
            SELECT COALESCE(sum(c.amount - (SELECT COALESCE(sum(e.amount), 0) FROM loyalty_postings r
                                            JOIN loyalty_entries e ON e.posting_id = r.id AND e.account_id = c.account_id
                                            WHERE r.refunds_id = c.posting_id)), 0)
            FROM loyalty_house_charges c
            WHERE c.account_id = ? AND c.person_id = ? AND c.created_us >= ?
              AND NOT EXISTS (SELECT 1 FROM loyalty_postings r WHERE r.reverses_id = c.posting_id)
            """, [.integer(account), .integer(person), .integer(since)]).first?.int(0) ?? 0
    }

    /// The start of the UTC calendar month holding `us`.
    static func monthStart(_ us: Int64) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        let date = Date(timeIntervalSince1970: Double(us / 1_000_000))
        guard let start = calendar.date(from: calendar.dateComponents([.year, .month], from: date)) else { return us }
        return Int64(exactly: start.timeIntervalSince1970.rounded()).map { $0 * 1_000_000 } ?? us
    }

    /// Who a house account belongs to, for messages.
    static func holderName(_ account: Account) -> String {
        if account.personID != 0 { return "person \(account.personID)" }
        if account.organizationID != 0 { return "organization \(account.organizationID)" }
        return "group \"\(account.label)\""
    }
}
