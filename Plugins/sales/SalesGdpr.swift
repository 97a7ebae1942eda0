import CRMPluginKit
import ContactsContract
import Foundation
import SwiftProtobuf

/// Sales' part of a GDPR export: every lead, opportunity and activity linked
/// to the person, as protobuf records (contacts gathers them).
enum SalesGdpr {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "ExportPersonData", exportData)
    }

    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_ModuleData {
        try Validate.positiveID(req.personID, "person_id")
        let db = try ctx.database
        let person = SQLValue.integer(req.personID)
        var data = Crm_Contacts_V1_ModuleData()
        data.module = "sales"
        func add(_ message: some Message) throws {
            data.records.append(.with {
                $0.typeName = type(of: message).protoMessageName
                $0.payload = (try? message.serializedData()) ?? Data()
            })
        }
        for row in try db.query("SELECT \(LeadStore.columns) FROM sales_leads WHERE person_id = ? ORDER BY id", [person]) {
            try add(LeadStore.decode(row))
        }
        for row in try db.query("\(OpportunityStore.select) WHERE o.person_id = ? ORDER BY o.id", [person]) {
            try add(OpportunityStore.decode(row))
        }
        for row in try db.query("""
            SELECT \(ActivityMethods.columns) FROM sales_activities
            WHERE person_id = ? OR lead_id IN (SELECT id FROM sales_leads WHERE person_id = ?) ORDER BY id
            """, [person, person]) {
            try add(ActivityMethods.decode(row))
        }
        return data
    }
}
