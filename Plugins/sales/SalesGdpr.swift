import CRMPluginKit
import ContactsContract
import Foundation
import SwiftProtobuf

/// Sales' part of a GDPR export: every lead, opportunity and activity linked
/// to the person, as protobuf records (contacts gathers them). Only the
/// records whose owner the caller's sales.person.gdpr_export scope reaches:
/// an export is a read like any other.
enum SalesGdpr {
    static func register(on def: PluginDefinition) {
        def.unary(Sales.service + "ExportPersonData", exportData)
    }

    static func exportData(_ ctx: CallContext, _ req: Crm_Contacts_V1_PersonDataRequest) throws -> Crm_Contacts_V1_ModuleData {
        try Validate.positiveID(req.personID, "person_id")
        let db = try ctx.database
        let person = SQLValue.integer(req.personID)
        let scope = ctx.scope
        var data = Crm_Contacts_V1_ModuleData()
        data.module = "sales"
        func add(_ message: some Message) throws {
            data.records.append(.with {
                $0.typeName = type(of: message).protoMessageName
                $0.payload = (try? message.serializedData()) ?? Data()
            })
        }
        var leads = SQLFilter()
        leads.add("person_id = ?", person)
        scope.apply(to: &leads, ownerColumn: "owner")
        for row in try db.query("SELECT \(LeadStore.columns) FROM sales_leads \(leads.clause) ORDER BY id", leads.parameters) {
            try add(LeadStore.decode(row))
        }
        var opportunities = SQLFilter()
        opportunities.add("o.person_id = ?", person)
        scope.apply(to: &opportunities, ownerColumn: "o.owner")
        for row in try db.query("\(OpportunityStore.select) \(opportunities.clause) ORDER BY o.id", opportunities.parameters) {
            try add(OpportunityStore.decode(row))
        }
        var activities = SQLFilter()
        activities.add("person_id = ? OR lead_id IN (SELECT id FROM sales_leads WHERE person_id = ?)", person, person)
        scope.apply(to: &activities, ownerColumn: "owner")
        for row in try db.query("""
            SELECT \(ActivityMethods.columns) FROM sales_activities \(activities.clause) ORDER BY id
            """, activities.parameters) {
            try add(ActivityMethods.decode(row))
        }
        return data
    }
}
