import CRMPluginKit
import ContactsContract

/// The account hierarchy: each organization's `parent_id`, kept free of
/// cycles, and the walks down it (ListSubsidiaries, which the sales roll-up
/// reads in-process). The parent is also a column with an index, so the
/// walk down is one index range per level.
enum OrganizationHierarchy {
    /// Deeper than this is refused: no real group of companies comes near
    /// it, and it bounds every walk up.
    static let maxDepth = 100

    static func register(on def: PluginDefinition) {
        def.unary(Contacts.service + "ListSubsidiaries", listSubsidiaries)
    }

    /// Checks `organization.parent_id` for a create (id 0) or an update:
    /// NOT_FOUND for a missing parent or one out of the caller's read
    /// scope; FAILED_PRECONDITION for a deleted or merged one, or one below
    /// the organization (the cycle named, from the parent up to it).
    static func checkParent(_ db: Database, _ organization: Organization, scope: RecordScope, field: String) throws {
        let parent = organization.parentID
        guard parent != 0 else { return }
        try Validate.positiveID(parent, field)
        if parent == organization.id {
            throw PluginError.invalidArgument("\(field): organization \(parent) cannot be its own parent")
        }
        let store = OrganizationStore(db: db)
        guard let row = try store.load(parent), scope.includes(owner: ownerOrNil(row.owner)) else {
            throw PluginError.notFound("\(field): organization \(parent) does not exist")
        }
        if row.mergedIntoID != 0 {
            throw PluginError.failedPrecondition("\(field): organization \(parent) was merged into organization \(row.mergedIntoID)")
        }
        if row.deletedUnixUs != 0 { throw PluginError.failedPrecondition("\(field): organization \(parent) is deleted") }
        let chain = try ancestors(db, of: parent)
        if organization.id != 0, let at = chain.firstIndex(of: organization.id) {
            let path = ([parent] + chain[...at]).map(String.init).joined(separator: " -> ")
            throw PluginError.failedPrecondition("\(field): organization \(parent) is below organization \(organization.id) "
                + "in the hierarchy (\(path)); making it the parent would be a cycle")
        }
        if chain.count + 1 >= maxDepth {
            throw PluginError.failedPrecondition("\(field): the hierarchy would be deeper than \(maxDepth) levels")
        }
    }

    /// The parents of `id`, nearest first (at most maxDepth of them).
    static func ancestors(_ db: Database, of id: Int64) throws -> [Int64] {
        var chain: [Int64] = []
        var current = id
        while chain.count <= maxDepth,
              let parent = try db.query("SELECT parent_id FROM contacts_organizations WHERE id = ?", [.integer(current)])
                .first?.first?.int, parent > 0, !chain.contains(parent) {
            chain.append(parent)
            current = parent
        }
        return chain
    }

    /// Direct subsidiaries by id, or with `descendants` every organization
    /// below (a recursive walk, whole, then filtered and paged by id: a
    /// hierarchy is at most thousands of organizations).
    static func listSubsidiaries(_ ctx: CallContext, _ req: Crm_Contacts_V1_ListSubsidiariesRequest) throws
        -> Crm_Contacts_V1_ListSubsidiariesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        let db = try ctx.database
        let scope = ctx.scope
        let root = try OrganizationStore(db: db).require(req.organizationID, field: "organization_id", scope: scope)
        var filter = SQLFilter()
        if req.descendants {
            filter.add("""
                id IN (WITH RECURSIVE tree(id, depth) AS (
                    SELECT id, 1 FROM contacts_organizations WHERE parent_id = ?
                    UNION ALL
                    SELECT o.id, t.depth + 1 FROM contacts_organizations o JOIN tree t ON o.parent_id = t.id
                    WHERE t.depth < \(maxDepth))
                SELECT id FROM tree)
                """, .integer(root.id))
        } else {
            filter.add("parent_id = ?", .integer(root.id))
        }
        scope.apply(to: &filter, ownerColumn: "owner")
        if !req.includeDeleted { filter.add("deleted_us = 0 AND merged_into = 0") }
        if let after = paging.after { filter.add("id > ?", after[0]) }
        let rows = try db.query("SELECT data, id FROM contacts_organizations \(filter.clause) ORDER BY id LIMIT ?",
                                filter.parameters + [.integer(Int64(paging.limit + 1))])
        let page = paging.page(rows) { [$0[1]] }
        var response = Crm_Contacts_V1_ListSubsidiariesResponse()
        response.organizations = try RecordTable<Organization>.decode(page.rows, idColumn: 1)
        response.nextPageToken = page.nextToken
        return response
    }

    /// A merge: the merged organization's subsidiaries move under the
    /// survivor. If the survivor was below the merged one it takes the
    /// merged one's place (its parent); a survivor without a parent takes
    /// the merged one's unless that would be a cycle. Returns the moved
    /// subsidiaries, saved, for their audit entries and events.
    static func merge(_ db: Database, _ merged: Organization, into survivor: inout Organization, at now: Int64) throws
        -> [(before: Organization, after: Organization)] {
        let survivorAncestors = try ancestors(db, of: survivor.id)
        if survivorAncestors.contains(merged.id) {
            survivor.parentID = merged.parentID
        } else if survivor.parentID == 0, merged.parentID != 0, merged.parentID != survivor.id,
                  !(try ancestors(db, of: merged.parentID)).contains(survivor.id) {
            survivor.parentID = merged.parentID
        }
        let store = OrganizationStore(db: db)
        var moved: [(Organization, Organization)] = []
        for row in try db.query("SELECT id FROM contacts_organizations WHERE parent_id = ? AND id <> ? ORDER BY id",
                                [.integer(merged.id), .integer(survivor.id)]) {
            guard var child = try store.load(row[0].int ?? 0) else { continue }
            let before = child
            child.parentID = survivor.id
            child.version += 1
            child.updatedUnixUs = now
            try store.save(child)
            moved.append((before, child))
        }
        return moved
    }
}
