import CRMPluginKit
import ContactsContract
import Foundation

/// Listing people with filters and sorting, and searching them, by keyset
/// pages that each cost one index range scan however deep the page is.
enum PeopleQueries {
    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "ListPeople", list)
        def.unary(Contacts.service + "SearchPeople", search)
    }

    static func list(_ ctx: CallContext, _ req: Crm_Contacts_V1_ListPeopleRequest) throws -> Crm_Contacts_V1_ListPeopleResponse {
        try page(ctx.database, req, scope: ctx.scope)
    }

    /// One page of people in `scope` (ListPeople's, or ExportPeople's for
    /// its chunks): the scope is a condition of the query, so a page is
    /// full and its token exact whatever the caller may not see.
    static func page(_ db: Database, _ req: Crm_Contacts_V1_ListPeopleRequest, scope: RecordScope) throws
        -> Crm_Contacts_V1_ListPeopleResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        try Validate.optionalID(req.organizationID, "organization_id")
        let (column, descending): (String, Bool)
        switch req.sort {
        case .name: (column, descending) = ("name_key", false)
        case .created: (column, descending) = ("created_us", true)
        case .updated: (column, descending) = ("updated_us", true)
        case .UNRECOGNIZED(let value): throw PluginError.invalidArgument("sort \(value) is not a sort order")
        }
        var filter = SQLFilter()
        scope.apply(to: &filter, ownerColumn: "owner")
        if !req.includeDeleted { filter.add("deleted_us = 0") }
        if req.organizationID != 0 { filter.add("organization_id = ?", .integer(req.organizationID)) }
        if !req.owner.isEmpty { filter.add("owner = ?", .text(req.owner)) }
        if req.lifecycleStage != .unspecified {
            filter.add("lifecycle_stage = ?", .integer(Int64(req.lifecycleStage.rawValue)))
        }
        if !req.tag.isEmpty {
            // EXISTS probes the tag per candidate in sort order and stops at a full
            // page; IN would first list every record with the tag.
            filter.add("""
                EXISTS (SELECT 1 FROM contacts_search s WHERE s.entity = 1 AND s.kind = 't' AND s.key = ?
                    AND s.record_id = contacts_people.id)
                """, .text(Tags.normalize(req.tag)))
        }
        if let after = paging.after {
            filter.add("(\(column), id) \(descending ? "<" : ">") (?, ?)", after[0], after[1])
        }
        let order = descending ? "DESC" : "ASC"
        let rows = try db.query("""
            SELECT data, \(column), id FROM contacts_people \(filter.clause)
            ORDER BY \(column) \(order), id \(order) LIMIT ?
            """, filter.parameters + [.integer(Int64(paging.limit + 1))])
        return try response(paging, rows)
    }

    static func search(_ ctx: CallContext, _ req: Crm_Contacts_V1_SearchPeopleRequest) throws -> Crm_Contacts_V1_ListPeopleResponse {
        let query = req.query.trimmedSpaces
        try Validate.required(query, "query")
        try Validate.maxLength(query, "query", 200)
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        let field = req.field == .auto ? guessField(query) : req.field
        let limit = SQLValue.integer(Int64(paging.limit + 1))
        let db = try ctx.database
        let scope = ctx.scope
        switch field {
        case .name, .email, .tag, .phone:
            let (kind, key, exact): (String, String, Bool)
            switch field {
            case .name: (kind, key, exact) = ("n", Normalize.name(query), false)
            case .email: (kind, key, exact) = ("e", Normalize.email(query), false)
            case .phone: (kind, key, exact) = ("p", Normalize.phone(query), true)
            default: (kind, key, exact) = ("t", Tags.normalize(query), true)
            }
            var filter = SQLFilter()
            filter.add("s.entity = 1 AND s.kind = ?", .text(kind))
            if exact { filter.add("s.key = ?", .text(key)) }
            else { filter.add("s.key >= ? AND s.key < ?", .text(key), .text(Normalize.upperBound(key))) }
            filter.add("p.deleted_us = 0")
            scope.apply(to: &filter, ownerColumn: "p.owner")
            if let after = paging.after { filter.add("(s.key, s.record_id) > (?, ?)", after[0], after[1]) }
            let rows = try db.query("""
                SELECT p.data, s.key, s.record_id FROM contacts_search s JOIN contacts_people p ON p.id = s.record_id
                \(filter.clause) ORDER BY s.key, s.record_id LIMIT ?
                """, filter.parameters + [limit])
            return try response(paging, rows, dropRepeats: true)
        case .organization:
            let prefix = Normalize.name(query)
            var filter = SQLFilter()
            filter.add("p.organization_id = s.record_id")
            filter.add("s.entity = 2 AND s.kind = 'n' AND s.key >= ? AND s.key < ?",
                       .text(prefix), .text(Normalize.upperBound(prefix)))
            filter.add("p.deleted_us = 0")
            scope.apply(to: &filter, ownerColumn: "p.owner")
            if let after = paging.after { filter.add("(p.name_key, p.id) > (?, ?)", after[0], after[1]) }
            // CROSS JOIN keeps SQLite from walking every person in name order
            // to test membership: it starts from the few matching organizations.
            let rows = try db.query("""
                SELECT p.data, p.name_key, p.id FROM contacts_search s CROSS JOIN contacts_people p \(filter.clause)
                ORDER BY p.name_key, p.id LIMIT ?
                """, filter.parameters + [limit])
            return try response(paging, rows)
        case .auto, .UNRECOGNIZED:
            throw PluginError.invalidArgument("field \(req.field.rawValue) is not a search field")
        }
    }

    /// "@" means an email; mostly digits a phone; anything else a name.
    static func guessField(_ query: String) -> Crm_Contacts_V1_SearchField {
        if query.contains("@") { return .email }
        let digits = query.filter { $0.isASCII && $0.isNumber }.count
        if digits >= 5 && digits * 2 > query.count { return .phone }
        return .name
    }

    /// A person can match on two keys ("ada lovelace" and "lovelace ada"):
    /// `dropRepeats` keeps a person once per page.
    private static func response(_ paging: Paging, _ rows: [[SQLValue]], dropRepeats: Bool = false) throws
        -> Crm_Contacts_V1_ListPeopleResponse {
        let page = paging.page(rows) { [$0[1], $0[2]] }
        var response = Crm_Contacts_V1_ListPeopleResponse()
        var seen: Set<Int64> = []
        for row in page.rows where !dropRepeats || seen.insert(row[2].int ?? 0).inserted {
            var person = try Person(serializedBytes: row[0].bytes ?? [])
            person.id = row[2].int ?? 0
            response.people.append(person)
        }
        response.nextPageToken = page.nextToken
        return response
    }
}
