"""What the citizen reads: every domain error code and status in Azerbaijani.

Pages are Azerbaijani (the service's language); codes stay stable so English and Russian
can be added beside ``AZ`` without touching the domain.
"""

from __future__ import annotations

from mcqs.errors import DomainError

AZ: dict[str, str] = {
    # ID card and FİN
    "id_card_required": "Şəxsiyyət vəsiqəsinin seriya və nömrəsini daxil edin.",
    "id_card_malformed": (
        "Şəxsiyyət vəsiqəsinin seriya və nömrəsi düzgün deyil: AA və 7 rəqəm "
        "(məs. AA1234567) və ya AZE və 8 rəqəm (məs. AZE12345678) olmalıdır."
    ),
    "id_card_not_of_fin": (
        "FİN kod və şəxsiyyət vəsiqəsinin nömrəsi bir-birinə uyğun gəlmir. Hər ikisini "
        "vəsiqədən yoxlayın."
    ),
    "id_card_expired": (
        "Şəxsiyyət vəsiqəsinin etibarlılıq müddəti bitib. Vəsiqəni yenilədikdən sonra cihazı "
        "burada və ya poçt şöbələrindəki qeydiyyat məntəqələrində, yaxud mobil operatorların "
        "satış məntəqələrində qeydiyyatdan keçirə bilərsiniz."
    ),
    "fin_required": "FİN kodunu daxil edin.",
    "fin_malformed": "FİN kod 7 simvoldan ibarətdir: latın böyük hərfləri və rəqəmlər.",
    # IMEI
    "imei_required": "Mobil cihazın İMEİ kodunu daxil edin.",
    "imei_not_digits": "İMEİ kodu yalnız rəqəmlərdən ibarət olmalıdır.",
    "imei_wrong_length": "İMEİ kodu 15 rəqəmdən ibarət olmalıdır (siz {length} rəqəm yazmısınız).",
    "imei_bad_check_digit": (
        "İMEİ kodu düzgün deyil: son (yoxlama) rəqəmi uyğun gəlmir. "
        "Kodu cihazda *#06# yığaraq yoxlayın."
    ),
    "imei_duplicate": "Bu İMEİ kodu artıq yuxarıdakı xanada yazılıb.",
    "imei_already_registered": "Bu İMEİ kodu artıq qeydiyyatdan keçib.",
    "imei_blacklisted": "Bu İMEİ kodu qara siyahıdadır (oğurlanmış və ya saxta cihaz).",
    "imei_in_pending_application": (
        "Bu İMEİ kodu üzrə hazırda ödəniş edilir. Ödəniş edilməzsə, {until} tarixindən "
        "sonra yenidən cəhd edə bilərsiniz."
    ),
    "imei_in_paid_application": (
        "Bu İMEİ kodu üzrə ödənilmiş ərizə var və qeydiyyatı gözlənilir. "
        "Ərizənin vəziyyətini bildirişin kodu ilə yoxlayın."
    ),
    # security code and limits
    "security_code_required": "Şəkildəki təhlükəsizlik kodunu daxil edin.",
    "security_code_wrong": "Təhlükəsizlik kodu yanlışdır. Yenidən cəhd edin.",
    "security_code_expired": "Təhlükəsizlik kodunun müddəti bitib. Yeni kodu daxil edin.",
    "security_code_locked": "Çox sayda yanlış cəhd edildi. Yeni təhlükəsizlik kodunu daxil edin.",
    "too_many_checks": "Çox sayda sorğu göndərildi. Bir qədər sonra yenidən cəhd edin.",
    "too_many_security_codes": (
        "Çox sayda yeni təhlükəsizlik kodu istənildi. Bir dəqiqədən sonra yenidən cəhd edin."
    ),
    "too_many_returns": "Çox sayda sorğu göndərildi. Bir dəqiqədən sonra yenidən cəhd edin.",
    "too_many_open_applications": (
        "Bu FİN üzrə artıq {limit} ödənilməmiş ərizə var. Onlardan birini ödəyin və ya "
        "müddəti bitənədək (30 dəqiqə) gözləyin."
    ),
    # application form and payment
    "phone_required": "Mobil telefon nömrəsini daxil edin.",
    "phone_not_az_mobile": (
        "Azərbaycan mobil nömrəsini daxil edin: +994 və operator kodu "
        "(50, 51, 55, 60, 70, 77, 99, 10) və 7 rəqəm, məs. +994 50 123 45 67."
    ),
    "card_type_required": "Kartın növünü seçin (Visa və ya MasterCard).",
    "application_expired": (
        "Ərizənin müddəti bitib. Zəhmət olmasa, məlumatları yenidən daxil edib başlayın."
    ),
    "application_not_payable": "Bu ərizə üzrə ödəniş artıq qəbul edilib və ya mümkün deyil.",
    "imei_hold_allowance_used": (
        "Bu İMEİ kodu üçün bu gün ödəniş vaxtından artıq istifadə etmisiniz. Sabah yenidən "
        "cəhd edin və ya poçt şöbəsindəki qeydiyyat məntəqəsinə, yaxud mobil operatorun satış "
        "məntəqəsinə müraciət edin."
    ),
    "payment_being_opened": (
        'Ödəniş səhifəsi açılır. Bir neçə saniyədən sonra yenidən "Təsdiqlə və ödəniş et" '
        "düyməsini basın."
    ),
    "application_state_changed": (
        "Ərizənin vəziyyəti bu arada dəyişib. Vəziyyəti bildirişin kodu ilə yoxlayın."
    ),
    "payment_in_progress": (
        "Bu ərizə üzrə ödənişin nəticəsi yoxlanılır. Bir neçə dəqiqədən sonra yenidən cəhd edin."
    ),
    "receipt_unknown": "Bu ərizə üzrə ödəniş hələ edilməyib, ona görə qəbz yoxdur.",
    "application_unknown": "Ərizə tapılmadı.",
    "payment_unknown": "Bu ödəniş MCQS-ə aid deyil. Ödənişi yenidən başlayın.",
    "payment_failed": (
        "Ödəniş baş tutmadı. Kart məlumatlarını yoxlayıb yenidən cəhd edin və ya başqa kartla "
        "ödəyin."
    ),
    # Why GoldenPay did not take the payment (payments.models.FailureReason), on the form.
    "payment_declined": (
        "Bank kartı rədd etdi, ödəniş alınmadı. Kartın məlumatlarını yoxlayın və ya başqa "
        "kartla ödəyin."
    ),
    "payment_insufficient_funds": (
        "Kartda kifayət qədər vəsait yoxdur, ödəniş alınmadı. Başqa kartla ödəyə bilərsiniz."
    ),
    "payment_cancelled": (
        'Ödənişi GoldenPay səhifəsində ləğv etdiniz. Ödəmək üçün yenidən "Təsdiqlə və ödəniş '
        'et" düyməsini seçin.'
    ),
    "payment_expired": (
        "Ödəniş səhifəsinin vaxtı bitdi və ödəniş edilmədi. Ödəmək üçün yenidən "
        '"Təsdiqlə və ödəniş et" düyməsini seçin.'
    ),
    "notification_code_malformed": "Bildirişin kodu düzgün deyil. Qəbzdəki kodu yoxlayın.",
    "notification_code_unknown": "Bu kod üzrə ərizə tapılmadı.",
    # external parties
    "population_registry_unavailable": (
        "Əhali reyestri hazırda cavab vermir. Bir neçə dəqiqədən sonra yenidən cəhd edin."
    ),
    "goldenpay_unavailable": (
        "Ödəniş sistemi hazırda cavab vermir. Bir neçə dəqiqədən sonra yenidən cəhd edin."
    ),
    "sms_unavailable": "SMS xidməti hazırda cavab vermir.",
    # sign-in through the e-government portal ("Portala giriş")
    "egov_unavailable": (
        "Elektron hökumət portalı hazırda cavab vermir. Bir neçə dəqiqədən sonra yenidən "
        "cəhd edin və ya cihazı portala giriş etmədən qeydiyyatdan keçirin."
    ),
    "egov_state_invalid": (
        "Portala giriş sorğusu bu brauzerdən başlanmayıb, artıq istifadə olunub və ya "
        "müddəti bitib. Yenidən daxil olun."
    ),
    "egov_code_refused": (
        "Portal girişi təsdiq etmədi (kod artıq istifadə olunub və ya müddəti bitib). "
        "Yenidən daxil olun."
    ),
    "egov_refused": "Portal girişi təsdiq etmədi. Yenidən daxil olun.",
    "egov_cancelled": "Portala giriş ləğv edildi.",
    "egov_token_signature": (
        "Portaldan gələn giriş məlumatlarının imzası etibarsızdır. Giriş qəbul edilmədi."
    ),
    "egov_token_issuer": (
        "Giriş məlumatları gözlənilən portal tərəfindən verilməyib. Giriş qəbul edilmədi."
    ),
    "egov_token_audience": "Giriş məlumatları bu xidmət üçün verilməyib. Giriş qəbul edilmədi.",
    "egov_token_nonce": (
        "Giriş məlumatları bu giriş sorğusuna aid deyil. Giriş qəbul edilmədi; yenidən daxil olun."
    ),
    "egov_token_expired": (
        "Giriş məlumatlarının müddəti bitib. Giriş qəbul edilmədi; yenidən daxil olun."
    ),
    "egov_token_invalid": "Portaldan gələn giriş məlumatları etibarsızdır. Giriş qəbul edilmədi.",
    "egov_fin_missing": (
        "Portal FİN kodunuzu ötürmədi. Cihazı portala giriş etmədən qeydiyyatdan keçirə bilərsiniz."
    ),
    "egov_person_unknown": (
        "Portalda daxil olduğunuz FİN kod əhali reyestrində tapılmadı. Cihazı poçt "
        "şöbələrindəki qeydiyyat məntəqələrində və ya mobil operatorların satış "
        "məntəqələrində qeydiyyatdan keçirə bilərsiniz."
    ),
    "sign_in_required": (
        "Bu səhifə yalnız portala giriş etmiş vətəndaşlar üçündür. Portala daxil olun."
    ),
    "staff_not_available": "Bu səhifə əməkdaşlar üçündür və hələ istifadəyə verilməyib.",
    # pages
    "page_not_found": "Belə səhifə yoxdur. Ünvanı yoxlayın və ya ana səhifədən başlayın.",
    "control_characters": (
        "Bu xanada yazıla bilməyən (idarəedici) simvol var. Xananı silib yenidən yazın."
    ),
    "field_not_text": "Bu xanaya yalnız mətn yazılır, fayl göndərilə bilməz.",
    "request_malformed": "Formada göndərilənlər oxuna bilmədi. Formanı yenidən doldurun.",
    "csrf_refused": (
        "Forma bu səhifədən göndərilməyib və ya sessiyanın müddəti bitib. "
        "Məlumatları yoxlayıb yenidən göndərin."
    ),
    "request_failed": "Sorğu yerinə yetirilə bilmədi. Yenidən cəhd edin.",
    "unexpected": (
        "Gözlənilməz xəta baş verdi. Məlumatlarınız itməyib; bir qədər sonra yenidən cəhd edin."
    ),
}

# What a form field is called on the page, for errors shown away from the field itself.
FIELD_LABELS_AZ: dict[str, str] = {
    "id_card": "Şəxsiyyət vəsiqəsinin seriya və nömrəsi",
    "fin": "FİN kod",
    "imei_1": "İMEİ kodu",
    "imei_2": "İMEİ kodu 2",
    "imei_3": "İMEİ kodu 3",
    "imei_4": "İMEİ kodu 4",
    "security_code": "Təhlükəsizlik kodu",
    "phone": "Mobil telefon nömrəsi",
    "card_type": "Kartın növü",
    "code": "Bildirişin kodu",
}

STATUS_AZ: dict[str, str] = {
    "created": "Ərizə yaradılıb, ödəniş gözlənilir",
    "awaiting_payment": "Ödəniş gözlənilir",
    "paid": "Ödənilib, reyestrə göndərilir",
    "submitted": "Reyestrə göndərilib",
    "registered": "Qeydiyyata alınıb",
    "rejected": "İmtina edilib",
    "expired": "Müddəti bitib (ödənilməyib)",
}

REJECT_REASONS_AZ: dict[str, str] = {
    "imei_registered_to_other": "İMEİ kodu artıq başqa şəxsin adına qeydiyyatdadır",
    "imei_blacklisted": "İMEİ kodu qara siyahıdadır",
    "imei_invalid": "İMEİ kodu etibarsızdır",
    "duplicate_payment": "Ərizə üçün ödəniş artıq edilib (təkrar ödəniş)",
    "imei_taken_while_unpaid": (
        "ödəniş müddəti bitdikdən sonra edildi və İMEİ kodu bu arada başqa ərizə üzrə ödənilir"
    ),
}


def text(error: DomainError) -> str:
    """The Azerbaijani sentence for a domain error, with its parameters filled in."""
    template = AZ.get(error.code, "Xəta baş verdi. Yenidən cəhd edin.")
    try:
        return template.format(**error.params)
    except (KeyError, IndexError):
        return template


# Operators' command line (English, for the engineers who run imports).
OPERATOR_EN: dict[str, str] = {
    "tac_file_unknown_format": (
        "{path}: neither the Osmocom CSV nor the GSMA pipe-separated format; "
        "name it with --format osmocom|gsma"
    ),
    "tac_file_bad_header": "{path}: the header is not the one this format has",
    "price_list_bad_header": "{path}: expected the header brand,model,market_value_usd,is_basic",
    "price_list_bad_row": "line {line}: not a valid price row",
}


def operator_text(error: DomainError) -> str:
    template = OPERATOR_EN.get(error.code, error.code)
    try:
        return template.format(**error.params)
    except (KeyError, IndexError):
        return f"{error.code} {error.params}"
