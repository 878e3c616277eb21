function guidancePrediction(): { accuracyHigher: boolean; varianceLower: boolean } {
  // A stronger pull towards the class: more samples the classifier recognises, less spread within a class.
  return { accuracyHigher: true, varianceLower: true };
}
