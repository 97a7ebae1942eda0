import CRMPluginKit
import ContactsContract
import Foundation
import SwiftProtobuf

/// Loyalty's part of a GDPR export: the person's accounts in the caller's
/// scope, every entry of each, their holds, and their gift cards (never a
/// code: only its keyed hash is kept, and it is not exported); their
/// house-account memberships and the charges they made.
enum LoyaltyGdpr {
    static func register(on def: PluginDefinition) {
        def.unary(Loyalty.service + "ExportPersonData", exportData)
    }

    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_ModuleData {
        try Validate.positiveID(req.personID, "person_id")
        let db = try ctx.database
        var data = Crm_Contacts_V1_ModuleData()
        data.module = "loyalty"
        func add(_ message: some Message) throws {
            data.records.append(.with {
                $0.typeName = type(of: message).protoMessageName
                $0.payload = (try? message.serializedData()) ?? Data()
            })
        }
        var filter = SQLFilter()
        filter.add("person_id = ?", [.integer(req.personID)])
        ctx.scope.apply(to: &filter, ownerColumn: "owner")
        for row in try db.query("SELECT \(LedgerStore.accountColumns) FROM loyalty_accounts \(filter.clause) ORDER BY id",
                                filter.parameters) {
            let account = try LedgerStore.withLiveHolds(db, LedgerStore.account(row))
            try add(account)
            if account.kind == .giftCard, let card = try db.query("\(GiftCards.select) WHERE g.account_id = ?",
                                                                   [.integer(account.id)]).first {
                try add(GiftCards.decode(card).card)
            }
            for entry in try db.query("SELECT \(LedgerStore.entryColumns) FROM loyalty_entries WHERE account_id = ? ORDER BY id",
                                      [.integer(account.id)]) {
                try add(LedgerStore.entry(entry))
            }
            for hold in try db.query("SELECT \(LedgerStore.holdColumns) FROM loyalty_holds WHERE account_id = ? ORDER BY id",
                                     [.integer(account.id)]) {
                try add(LedgerStore.hold(hold))
            }
            let now = UTCClock.nowMicros()
            for lot in try db.query("SELECT \(PointLots.lotColumns) FROM loyalty_point_lots WHERE account_id = ? ORDER BY id",
                                    [.integer(account.id)]) {
                try add(PointLots.lot(lot, now: now))
            }
            if account.kind == .points {
                for record in try TierPeople.export(db, account: account.id) { try add(record) }
            }
        }
        // Memberships of house accounts (theirs or others') and the charges
        // they made, in the caller's scope of those accounts.
        for row in try db.query("""
            SELECT m.account_id, a.owner FROM loyalty_house_members m JOIN loyalty_accounts a ON a.id = m.account_id
            WHERE m.person_id = ? ORDER BY m.account_id
            """, [.integer(req.personID)]) where ctx.scope.includes(owner: ownerOrNil(row.text(1))) {
            if let member = try HouseAccounts.loadMember(db, account: row.int(0), person: req.personID) { try add(member) }
        }
        for row in try db.query("""
            SELECT e.id, e.posting_id, e.kind, e.amount, e.balance_after, e.created_us, p.reason, c.person_id, c.order_ref, '', '', a.owner
            FROM loyalty_house_charges c JOIN loyalty_entries e ON e.posting_id = c.posting_id AND e.account_id = c.account_id
            JOIN loyalty_postings p ON p.id = c.posting_id JOIN loyalty_accounts a ON a.id = c.account_id
            WHERE c.person_id = ? ORDER BY c.posting_id
            """, [.integer(req.personID)]) where ctx.scope.includes(owner: ownerOrNil(row.text(11))) {
            try add(HouseStatements.line(row))
        }
        // Their orders, with lines and refunds.
        for row in try db.query("SELECT id, owner FROM loyalty_orders WHERE person_id = ? ORDER BY id", [.integer(req.personID)])
        where ctx.scope.includes(owner: ownerOrNil(row.text(1))) {
            if let order = try OrderStore.load(db, row.int(0)) { try add(order) }
        }
        return data
    }
}
