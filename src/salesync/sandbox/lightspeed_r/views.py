"""Sales and sale lines as the R-Series API shows them, with the relations asked for.

``load_relations`` names what is nested in each object: ``SaleLines`` (and
``SaleLines.Item``), ``SalePayments`` (and ``SalePayments.PaymentType``), ``TaxCategory``
and ``Customer`` (https://developers.lightspeedhq.com/retail/endpoints/Sale/). Relations
not asked for are left out, as the API does, so a client that forgets one sees only ids.
"""

from __future__ import annotations

from decimal import Decimal

from salesync.sandbox.lightspeed_r.records import (
    Json,
    Sale,
    SaleLine,
    SalePayment,
    amount,
    flag,
    relation,
    stamp,
)
from salesync.sandbox.lightspeed_r.store import AccountData

SALE_RELATIONS = frozenset(
    {
        "SaleLines",
        "SaleLines.Item",
        "SaleLines.Item.Category",
        "SalePayments",
        "SalePayments.PaymentType",
        "TaxCategory",
        "Customer",
    }
)


def line_view(sale: Sale, line: SaleLine, data: AccountData, relations: set[str]) -> Json:
    tax = data.tax_categories[sale.tax_category_id]
    found: Json = {
        "saleLineID": str(line.id),
        "createTime": stamp(sale.create_time),
        "timeStamp": stamp(sale.time_stamp),
        "unitQuantity": str(line.quantity),
        "unitPrice": amount(line.unit_price),
        "normalUnitPrice": amount(line.unit_price),
        "discountAmount": amount(line.line_discount),
        "discountPercent": "0",
        "tax": flag(line.taxable),
        "tax1Rate": str(tax.tax1_rate if line.taxable else Decimal(0)),
        "tax2Rate": str(tax.tax2_rate if line.taxable else Decimal(0)),
        "isLayaway": "false",
        "calcLineDiscount": amount(line.line_discount),
        "calcTransactionDiscount": amount(line.sale_discount),
        "calcSubtotal": amount(line.subtotal),
        "calcTotal": amount(line.net + line.tax1 + line.tax2),
        "calcTax1": amount(line.tax1),
        "calcTax2": amount(line.tax2),
        "itemID": str(line.item_id),
        "parentSaleLineID": str(line.parent_line_id),
        "shopID": str(sale.shop_id),
        "saleID": str(sale.id),
        "employeeID": str(sale.employee_id),
        "customerID": str(sale.customer_id),
    }
    if "SaleLines.Item" in relations and line.item_id in data.items:
        nested = {"Category"} if "SaleLines.Item.Category" in relations else set()
        found["Item"] = data.items[line.item_id].view(data.categories, nested)
    return found


def payment_view(payment: SalePayment, data: AccountData, relations: set[str]) -> Json:
    found: Json = {
        "salePaymentID": str(payment.id),
        "amount": amount(payment.amount),
        "tipAmount": amount(payment.tip),
        "archived": flag(payment.archived),
        "paymentTypeID": str(payment.payment_type_id),
    }
    if "SalePayments.PaymentType" in relations:
        found["PaymentType"] = data.payment_types[payment.payment_type_id].view()
    return found


def sale_view(sale: Sale, data: AccountData, relations: set[str]) -> Json:
    found: Json = {
        "saleID": str(sale.id),
        "timeStamp": stamp(sale.time_stamp),
        "createTime": stamp(sale.create_time),
        "updateTime": stamp(sale.time_stamp),
        "completeTime": stamp(sale.complete_time) if sale.complete_time else "",
        "completed": flag(sale.completed),
        "archived": flag(sale.archived),
        "voided": flag(sale.voided),
        "isTaxInclusive": "false",
        "tipEnabled": "true",
        "referenceNumber": sale.reference,
        "referenceNumberSource": "",
        "calcSubtotal": amount(sale.subtotal),
        "calcDiscount": amount(sale.discount),
        "calcTax1": amount(sale.tax1),
        "calcTax2": amount(sale.tax2),
        "calcTotal": amount(sale.total),
        "calcTips": amount(sale.tips),
        "calcPayments": amount(
            sum((p.amount for p in sale.payments if not p.archived), Decimal(0))
        ),
        "total": amount(sale.total),
        "shopID": str(sale.shop_id),
        "registerID": str(sale.register_id),
        "employeeID": str(sale.employee_id),
        "customerID": str(sale.customer_id),
        "taxCategoryID": str(sale.tax_category_id),
    }
    if "SaleLines" in relations:
        lines = [line_view(sale, li, data, relations) for li in sale.lines]
        found["SaleLines"] = relation("SaleLine", lines)
    if "SalePayments" in relations:
        payments = [payment_view(p, data, relations) for p in sale.payments]
        found["SalePayments"] = relation("SalePayment", payments)
    if "TaxCategory" in relations:
        found["TaxCategory"] = data.tax_categories[sale.tax_category_id].view()
    if "Customer" in relations and sale.customer_id in data.customers:
        found["Customer"] = data.customers[sale.customer_id].view(set())
    return found
