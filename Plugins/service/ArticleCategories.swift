import CRMPluginKit
import ServiceContract

typealias ArticleCategory = Crm_Service_V1_ArticleCategory

/// Knowledge-base categories: shared configuration, changed with
/// service.article_category.write at scope all, as macros and teams are.
enum ArticleCategories {
    static let writePermission = "service.article_category.write"
    static let updateMask = UpdateMask(fields: ["name": 2, "description": 3])

    static func register(on def: PluginDefinition) {
        def.unary(Service.service + "CreateArticleCategory", create)
        def.unary(Service.service + "UpdateArticleCategory", update)
        def.unary(Service.service + "DeleteArticleCategory", delete)
        def.unary(Service.service + "ListArticleCategories", list)
    }

    static let columns = "id, name, description, version, created_us, updated_us"

    static func decode(_ r: [SQLValue]) -> ArticleCategory {
        var c = ArticleCategory()
        c.id = r.int(0)
        c.name = r.text(1)
        c.description_p = r.text(2)
        c.version = r.int(3)
        c.createdUnixUs = r.int(4)
        c.updatedUnixUs = r.int(5)
        return c
    }

    /// The category, or INVALID_ARGUMENT / NOT_FOUND naming `field`.
    static func require(_ db: Database, _ id: Int64, _ field: String) throws -> ArticleCategory {
        try Validate.positiveID(id, field)
        guard let r = try db.query("SELECT \(columns) FROM service_kb_categories WHERE id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): category \(id) does not exist")
        }
        return decode(r)
    }

    /// An article's or a filter's category: 0 is none; else it must exist.
    static func check(_ db: Database, _ id: Int64, _ field: String) throws {
        try Validate.optionalID(id, field)
        if id != 0 { _ = try require(db, id, field) }
    }

    private static func validate(_ c: inout ArticleCategory) throws {
        try Check.text(&c.name, "category.name", max: 100)
        try Validate.required(c.name, "category.name")
        try Check.text(&c.description_p, "category.description", max: 1000)
    }

    private static func audit(_ ctx: CallContext, _ action: String, old: ArticleCategory?, new: ArticleCategory?) throws {
        func fields(_ c: ArticleCategory?) -> [String: String] {
            guard let c else { return [:] }
            return c.description_p.isEmpty ? ["name": c.name] : ["name": c.name, "description": c.description_p]
        }
        try ctx.audit(AuditEntry(entity: "service.article_category", recordID: String((new ?? old)?.id ?? 0), action: action,
                                 changes: FieldChange.between(old: fields(old), new: fields(new))))
    }

    static func create(_ ctx: CallContext, _ req: Crm_Service_V1_CreateArticleCategoryRequest) throws -> ArticleCategory {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a knowledge-base category")
        let db = try ctx.database
        let (previous, claim) = try Service.idempotency.check(db, method: "CreateArticleCategory", req, key: \.idempotencyKey)
        if let id = previous { return try require(db, id, "idempotency_key") }
        var c = ArticleCategory()
        c.name = req.category.name
        c.description_p = req.category.description_p
        try validate(&c)
        let now = UTCClock.nowMicros()
        c.version = 1
        c.createdUnixUs = now
        c.updatedUnixUs = now
        c.id = try db.execute("INSERT INTO service_kb_categories (name, description, version, created_us, updated_us) VALUES (?, ?, 1, ?, ?)",
                              [.text(c.name), .text(c.description_p), .integer(now), .integer(now)]).lastInsertID
        try audit(ctx, "create", old: nil, new: c)
        try Service.idempotency.record(db, claim, resultID: c.id)
        return c
    }

    static func update(_ ctx: CallContext, _ req: Crm_Service_V1_UpdateArticleCategoryRequest) throws -> ArticleCategory {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a knowledge-base category")
        let fields = try updateMask.resolve(req.updateMask, req.category)
        let db = try ctx.database
        let before = try require(db, req.category.id, "category.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "category \(before.id)")
        var c = before
        if fields.contains("name") { c.name = req.category.name }
        if fields.contains("description") { c.description_p = req.category.description_p }
        try validate(&c)
        guard c != before else { return c }
        c.version += 1
        c.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("UPDATE service_kb_categories SET name = ?, description = ?, version = ?, updated_us = ? WHERE id = ?",
                       [.text(c.name), .text(c.description_p), .integer(c.version), .integer(c.updatedUnixUs), .integer(c.id)])
        try audit(ctx, "update", old: before, new: c)
        return c
    }

    static func delete(_ ctx: CallContext, _ req: Crm_Service_V1_DeleteArticleCategoryRequest) throws -> Crm_Service_V1_DeleteArticleCategoryResponse {
        try TicketScope.checkConfigWritable(ctx, permission: writePermission, "a knowledge-base category")
        let db = try ctx.database
        let c = try require(db, req.id, "id")
        try Validate.expectedVersion(req.expectedVersion, c.version, noun: "category \(c.id)")
        if try !db.query("SELECT 1 FROM service_kb_articles WHERE category_id = ? LIMIT 1", [.integer(c.id)]).isEmpty {
            throw PluginError.failedPrecondition("id: category \(c.id) still holds articles; move or archive them elsewhere first")
        }
        try db.execute("DELETE FROM service_kb_categories WHERE id = ?", [.integer(c.id)])
        try audit(ctx, "delete", old: c, new: nil)
        return .init()
    }

    static func list(_ ctx: CallContext, _ req: Crm_Service_V1_ListArticleCategoriesRequest) throws -> Crm_Service_V1_ListArticleCategoriesResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 2)
        var condition = "1"
        var parameters: [SQLValue] = []
        if let after = paging.after {
            guard case .text(let name) = after[0] else { throw PluginError.invalidArgument("page_token is not a token this list returned") }
            condition = "(name > ? OR (name = ? AND id > ?))"
            parameters = [.text(name), .text(name), try tokenInt(after[1])]
        }
        let page = try fetchPage(try ctx.database, """
            SELECT \(columns) FROM service_kb_categories WHERE \(condition) ORDER BY name, id LIMIT ?
            """, parameters, paging, decode: decode, key: { [$0[1], $0[0]] })
        var response = Crm_Service_V1_ListArticleCategoriesResponse()
        response.categories = page.rows
        response.nextPageToken = page.nextToken
        return response
    }
}
