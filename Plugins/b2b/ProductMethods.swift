import B2BContract
import CRMPluginKit

/// The product catalog: create, read, update, list.
enum ProductMethods {
    static func register(on def: PluginDefinition) {
        def.unary(B2B.service + "CreateProduct", create)
        def.unary(B2B.service + "GetProduct", get)
        def.unary(B2B.service + "UpdateProduct", update)
        def.unary(B2B.service + "ListProducts", list)
    }

    static let columns = "p.id, p.sku, p.name, p.description, p.unit, p.active, p.version, p.created_us, p.updated_us"
    static let updateMask = UpdateMask(fields: ["sku": 2, "name": 3, "description": 4, "unit": 5, "active": 6])

    static func decode(_ row: [SQLValue]) -> Product {
        Product.with {
            $0.id = row.int(0)
            $0.sku = row.text(1)
            $0.name = row.text(2)
            $0.description_p = row.text(3)
            $0.unit = row.text(4)
            $0.active = row.int(5) != 0
            $0.version = row.int(6)
            $0.createdUnixUs = row.int(7)
            $0.updatedUnixUs = row.int(8)
        }
    }

    static func create(_ ctx: CallContext, _ req: Crm_B2b_V1_CreateProductRequest) throws -> Product {
        let db = try ctx.database
        let (previous, claim) = try B2B.idempotency.check(db, method: "CreateProduct", req, key: \.idempotencyKey)
        if let id = previous { return try require(db, id) }
        var p = req.product
        try validate(&p, prefix: "product.")
        if p.unit.isEmpty { p.unit = "each" }
        try checkSkuFree(db, p.sku, except: 0, field: "product.sku")
        let now = UTCClock.nowMicros()
        p.active = true
        p.version = 1
        p.createdUnixUs = now
        p.updatedUnixUs = now
        p.id = try db.execute("""
            INSERT INTO b2b_products (sku, sku_key, name, description, unit, active, version, created_us, updated_us)
            VALUES (?, ?, ?, ?, ?, 1, 1, ?, ?)
            """, [.text(p.sku), .text(p.sku.lowercased()), .text(p.name), .text(p.description_p), .text(p.unit),
                  .integer(now), .integer(now)]).lastInsertID
        try audit(ctx, "create", old: nil, new: p)
        try B2B.idempotency.record(db, claim, resultID: p.id)
        return p
    }

    static func get(_ ctx: CallContext, _ req: Crm_B2b_V1_GetProductRequest) throws -> Product {
        try require(try ctx.database, req.id)
    }

    static func update(_ ctx: CallContext, _ req: Crm_B2b_V1_UpdateProductRequest) throws -> Product {
        let fields = try updateMask.resolve(req.updateMask, req.product)
        let db = try ctx.database
        let before = try require(db, req.product.id, field: "product.id")
        try Validate.expectedVersion(req.expectedVersion, before.version, noun: "product \(before.id)")
        var p = before
        let source = req.product
        if fields.contains("sku") { p.sku = source.sku }
        if fields.contains("name") { p.name = source.name }
        if fields.contains("description") { p.description_p = source.description_p }
        if fields.contains("unit") { p.unit = source.unit.isEmpty ? "each" : source.unit }
        if fields.contains("active") { p.active = source.active }
        try validate(&p, prefix: "product.")
        if p.sku.lowercased() != before.sku.lowercased() { try checkSkuFree(db, p.sku, except: p.id, field: "product.sku") }
        guard p != before else { return p }
        p.version += 1
        p.updatedUnixUs = UTCClock.nowMicros()
        try db.execute("""
            UPDATE b2b_products SET sku = ?, sku_key = ?, name = ?, description = ?, unit = ?, active = ?, version = ?,
                updated_us = ? WHERE id = ?
            """, [.text(p.sku), .text(p.sku.lowercased()), .text(p.name), .text(p.description_p), .text(p.unit),
                  .integer(p.active ? 1 : 0), .integer(p.version), .integer(p.updatedUnixUs), .integer(p.id)])
        try audit(ctx, "update", old: before, new: p)
        return p
    }

    static func list(_ ctx: CallContext, _ req: Crm_B2b_V1_ListProductsRequest) throws -> Crm_B2b_V1_ListProductsResponse {
        let paging = try Paging(pageSize: req.pageSize, pageToken: req.pageToken, keyCount: 1)
        var filter = SQLFilter()
        if !req.includeInactive { filter.add("p.active = 1") }
        if let after = paging.after { filter.add("p.id > ?", [after[0]]) }
        let page = try fetchPage(try ctx.database, "SELECT \(columns) FROM b2b_products p \(filter.clause) ORDER BY p.id LIMIT ?",
                                 filter.parameters, paging, decode: decode, key: { [$0[0]] })
        return .with {
            $0.products = page.rows
            $0.nextPageToken = page.nextToken
        }
    }

    static func require(_ db: Database, _ id: Int64, field: String = "id") throws -> Product {
        try Validate.positiveID(id, field)
        guard let row = try db.query("SELECT \(columns) FROM b2b_products p WHERE p.id = ?", [.integer(id)]).first else {
            throw PluginError.notFound("\(field): product \(id) does not exist")
        }
        return decode(row)
    }

    static func validate(_ p: inout Product, prefix: String) throws {
        p.sku = p.sku.trimmedSpaces
        try Validate.required(p.sku, "\(prefix)sku")
        try Validate.maxLength(p.sku, "\(prefix)sku", 64)
        guard p.sku.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.skuScalars.contains($0.value)) }) else {
            throw PluginError.invalidArgument("\(prefix)sku \"\(p.sku.prefix(64))\" may hold only A-Z a-z 0-9 . _ - /")
        }
        try Check.text(&p.name, "\(prefix)name", max: 200, required: true)
        try Check.text(&p.description_p, "\(prefix)description", max: 2000)
        try Check.text(&p.unit, "\(prefix)unit", max: 32)
    }

    static func checkSkuFree(_ db: Database, _ sku: String, except id: Int64, field: String) throws {
        if let row = try db.query("SELECT id FROM b2b_products WHERE sku_key = ?", [.text(sku.lowercased())]).first,
           row.int(0) != id {
            throw PluginError.alreadyExists("\(field): sku \"\(sku)\" is taken by product \(row.int(0))")
        }
    }

    static func audit(_ ctx: CallContext, _ action: String, old: Product?, new: Product) throws {
        func fields(_ p: Product) -> [String: String] {
            ["sku": p.sku, "name": p.name, "description": p.description_p, "unit": p.unit, "active": p.active ? "true" : "false"]
        }
        try ctx.audit(AuditEntry(entity: "b2b.product", recordID: String(new.id), action: action,
                                 changes: FieldChange.between(old: old.map(fields) ?? [:], new: fields(new))))
    }
}

/// The bytes a sku may hold.
enum CharacterSet {
    static let skuScalars: Set<UInt32> = {
        var set = Set<UInt32>()
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-/".unicodeScalars { set.insert(c.value) }
        return set
    }()
}
