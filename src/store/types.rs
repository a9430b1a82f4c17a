//! How the domain's values read from and write to a column: a unit code is text that must
//! parse, so a damaged row fails to decode with the column's name instead of handing an
//! invalid code past the store.

use sqlx::any::{Any, AnyTypeInfo};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

use crate::domain::UnitCode;

impl Type<Any> for UnitCode {
    fn type_info() -> AnyTypeInfo {
        <String as Type<Any>>::type_info()
    }
}

impl<'r> Decode<'r, Any> for UnitCode {
    fn decode(value: <Any as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <String as Decode<'r, Any>>::decode(value)?;
        Ok(UnitCode::parse(&text)?)
    }
}

impl Encode<'_, Any> for UnitCode {
    fn encode_by_ref(
        &self,
        buf: &mut <Any as Database>::ArgumentBuffer,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<'_, Any>>::encode(self.as_str().to_string(), buf)
    }
}
