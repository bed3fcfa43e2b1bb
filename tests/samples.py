"""Valid request bodies and files the tests build on."""
from __future__ import annotations

import struct
import zlib

CONTACT = {"name": "María Pérez", "email": "maria@clubcaracas.com.ve", "phone": "+58 212 555 0100"}
DESCRIPTION = ("Al conciliar el banco Mercantil del mes de octubre, la factura 1234 del socio con número de "
               "acción 55 aparece cargada dos veces en el estado de cuenta del club.")


def ticket_body(case: str = "Factura mal cargada en el banco Mercantil", module: str = "BANCOS", **extra) -> dict:
    """A body for POST /api/tickets that passes every rule."""
    return {"desk": "SOPORTE", "subject": f"{module}, {case}", "description": DESCRIPTION, "contact": CONTACT,
            **extra}


def distinct_cases():
    """(module, case) pairs a SOPORTE customer can open one after the other: no two alike (rule 6),
    except the generated SISTEMA backups, which rule 6 calls alike: open them with `confirmed_different_case`."""
    yield from [("BANCOS", "Factura mal cargada en el banco Mercantil"),
                ("CARNETIZACION", "Socio sin carnet después de renovar la cuota"),
                ("NOMINA", "Nómina quincenal calcula mal el bono nocturno"),
                ("CXC", "Reporte de cuentas por cobrar sale vacío"),
                ("INVENTARIO", "Inventario del bar no descuenta las ventas"),
                ("SENIAT", "Declaración de IVA rechazada por el portal"),
                ("CONTABILIDAD", "Comprobante contable de cierre descuadrado"),
                ("REPORTES", "Listado de morosidad omite socios suspendidos"),
                ("SOCIOS", "Ficha del socio no guarda el nuevo correo"),
                ("FACTURACION", "Factura de cuota de mantenimiento duplicada"),
                ("CXP", "Pago a proveedor aparece dos veces en el libro"),
                ("SISTEMA", "Pantalla de ingreso tarda varios minutos en abrir")]
    for n, word in enumerate(["diaria", "semanal", "mensual", "anual", "externa", "local", "remota", "completa",
                              "parcial", "cifrada", "comprimida", "incremental", "nocturna", "manual",
                              "automática", "espejo"]):
        yield "SISTEMA", f"Respaldo número {n} falla al programar la copia {word}"


def png(width: int = 2, height: int = 2) -> bytes:
    """A small but valid PNG image (a screenshot stand-in)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
