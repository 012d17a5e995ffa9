"""All computation of CNN Lens (torch / numpy / PIL). Never imports streamlit."""
