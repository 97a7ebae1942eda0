import CRMPluginKit
import ContactsContract
import Foundation
import SwiftProtobuf

/// Loyalty's part of a GDPR export: the person's accounts in the caller's
/// scope, every entry of each, their holds, and their gift cards (never a
/// code: only its keyed hash is kept, and it is not exported).
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
        }
        return data
    }
}
