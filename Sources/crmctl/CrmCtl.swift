@main struct CrmCtl { static func main() {} }
